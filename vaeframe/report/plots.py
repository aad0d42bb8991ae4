"""Training curves as PNG files: β, non-black accuracy and KL per dimension over epochs, and
the rate–distortion plane of the final figures.

A group of runs that differ only in their seed (:mod:`vaeframe.report.seeds`) is drawn as its
mean curve with a shaded band of ±1 sample standard deviation, and in the rate–distortion
plane as its mean with error bars; the KL heatmap keeps one panel a run (latent dimension i
of one seed is not dimension i of another).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vaeframe.report.seeds import RunGroup, mean_std, numbers
from vaeframe.rundir.record import RunRecord, component_label
from vaeframe.runs.criteria import ACCURACY_BAR, dims_logged

DPI = 120
KL_FLOOR = 0.01  # the heatmap's log scale starts here: a collapsed dimension is darkest


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (imported only when drawing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` as a PNG and free it."""
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    return path


LINE_STYLES = ("-", "--", ":", "-.")


def _style(index: int, points: int) -> dict[str, Any]:
    """Line style of the ``index``-th run: each line is thinner than the ones drawn before it
    and dashed differently, so runs whose curves coincide stay visible."""
    return {"linestyle": LINE_STYLES[index % len(LINE_STYLES)],
            "linewidth": max(1.0, 3.0 - 0.35 * index),
            "marker": "o" if points <= 30 else None, "markersize": 3}


def _epoch_axis(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)


def _legend_right(ax: Any) -> None:
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _betas(record: RunRecord) -> list[float]:
    rows = record.epochs
    return [r["beta"] for r in rows] if rows else list(record.summary.get("beta_history", []))


BAND_ALPHA = 0.2  # the shaded ±1 std band of a group's curve


def _curve(ax: Any, group: RunGroup, series: Sequence[dict[float, float]], index: int) -> None:
    """A run's line, or a group's mean line with its ±1 std band; ``series`` holds each
    run's values by epoch, and a group's epoch is averaged over the runs that have it."""
    epochs = sorted({epoch for values in series for epoch in values})
    stats = [mean_std(values[e] for values in series if e in values) for e in epochs]
    means = np.array([m for m, _, _ in stats])
    label = group.label
    if group.grouped:
        label += f" (mean ± std, n={len(group.records)})"
    (line,) = ax.plot(epochs, means, label=label, **_style(index, len(epochs)))
    if group.grouped:
        stds = np.array([s for _, s, _ in stats])
        ax.fill_between(epochs, means - stds, means + stds, color=line.get_color(),
                        alpha=BAND_ALPHA, linewidth=0)


def plot_beta(groups: Sequence[RunGroup], path: Path) -> Path:
    """β (the KL weight) at every epoch, one line a run or group."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for i, group in enumerate(groups):
        series = [dict(enumerate(_betas(r), 1)) for r in group.records]
        _curve(ax, group, series, i)
    ax.set(ylabel="β (KL weight)", title="β per epoch")
    ax.set_ylim(bottom=0)
    _epoch_axis(ax)
    _legend_right(ax)
    return save_figure(fig, path)


def plot_accuracy(groups: Sequence[RunGroup], path: Path) -> Path:
    """Non-black accuracy on training and held-out grids at every evaluated epoch."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, split, label in zip(axes, ("train", "heldout"), ("training grids", "held-out grids"),
                                strict=True):
        key = f"{split}/nonblack_acc"
        for i, group in enumerate(groups):
            series = [{r["epoch"]: 100 * r[key] for r in record.epochs if key in r}
                      for record in group.records]
            _curve(ax, group, series, i)
        ax.axhline(100 * ACCURACY_BAR, color="black", linestyle="--", linewidth=1,
                   label=f"seed's bar: {100 * ACCURACY_BAR:.0f}%")
        ax.set(title=f"non-black accuracy, {label}")
        ax.set_ylim(0, 100)
        _epoch_axis(ax)
    axes[0].set_ylabel("non-black cells reconstructed exactly (%)")
    _legend_right(axes[1])
    return save_figure(fig, path)


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def rate_distortion(record: RunRecord) -> tuple[float, float] | None:
    """A run's final rate (``final.kl_raw``: KL in nats, summed over the latent dimensions)
    and distortion (``final.recon_loss``), if its summary has both."""
    final = record.summary.get("final")
    if not isinstance(final, dict):
        return None
    found = numbers([final.get("kl_raw")]) + numbers([final.get("recon_loss")])
    return (found[0], found[1]) if len(found) == 2 else None


def plot_rate_distortion(groups: Sequence[RunGroup], path: Path) -> list[str]:
    """The rate–distortion plane (Alemi et al. 2018, "Fixing a Broken ELBO"): one point a
    run, a group's mean with ±1 std error bars on both axes (its runs faint behind it), each
    labelled. Returns the labels of runs and groups without both figures, which are left out."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    missing = []
    drawn = 0
    for i, group in enumerate(groups):
        points = [p for p in map(rate_distortion, group.records) if p is not None]
        if not points:
            missing.append(group.label)
            continue
        rates, distortions = zip(*points, strict=True)
        (x, dx, n), (y, dy, _) = mean_std(rates), mean_std(distortions)
        marker = MARKERS[i % len(MARKERS)]
        color = f"C{i % 10}"
        if n > 1:
            ax.scatter(rates, distortions, marker=marker, color=color, alpha=0.35, s=18)
            ax.errorbar(x, y, xerr=dx, yerr=dy, fmt=marker, color=color, capsize=4,
                        markersize=7, label=f"{group.label} (mean ± std, n={n})")
        else:
            ax.plot(x, y, marker, color=color, markersize=7, label=group.label)
        ax.annotate(group.label, (x, y), xytext=(6, 6), textcoords="offset points",
                    fontsize="small", color=color)
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no run has final.kl_raw and final.recon_loss", ha="center",
                va="center", transform=ax.transAxes)
    ax.set(xlabel="rate R: final KL (nats, summed over latent dimensions)",
           ylabel="distortion D: final reconstruction loss",
           title="rate–distortion plane (final epoch, training)")
    ax.grid(alpha=0.3)
    if drawn:
        ax.margins(0.15)
        _legend_right(ax)
    save_figure(fig, path)
    return missing


def kl_matrix(record: RunRecord) -> np.ndarray:
    """Training KL per dimension, ``(latent_dim, epochs)``; empty if none was logged."""
    columns = [dims_logged(r, "epoch/kl_per_dim") for r in record.epochs]
    columns = [c for c in columns if c]
    return np.array(columns, dtype=float).T if columns else np.zeros((0, 0))


def _thresholds(records: Sequence[RunRecord]) -> list[float]:
    """Every declared KL floor λ > 0 among ``records``."""
    return sorted({r.declared.kl_floor for r in records
                   if r.declared.kl_floor is not None and r.declared.kl_floor > 0})


def plot_kl_heatmap(records: Sequence[RunRecord], path: Path) -> Path:
    """KL per latent dimension over epochs, one panel a run, on one shared log colour scale."""
    from matplotlib.colors import LogNorm

    plt = pyplot()
    matrices = [kl_matrix(r) for r in records]
    top = max((m.max() for m in matrices if m.size), default=1.0)
    norm = LogNorm(vmin=KL_FLOOR, vmax=max(top, 10 * KL_FLOOR), clip=True)
    heights = [max(1.0, 0.2 * m.shape[0]) + 0.6 for m in matrices]
    fig, axes = plt.subplots(len(records), 1, figsize=(9, sum(heights) + 0.8), squeeze=False,
                             sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": heights})
    image = None
    for ax, record, matrix in zip(axes[:, 0], records, matrices, strict=True):
        floor = (f" — {component_label(record.config, 'kl')}, floor λ = "
                 f"{record.declared.kl_floor:g}" if record.declared.kl_floor else "")
        ax.set_title(f"{record.label}{floor}", fontsize="medium", loc="left")
        ax.set_ylabel("latent dim")
        if not matrix.size:
            ax.text(0.5, 0.5, "no per-dimension KL logged", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        dims, epochs = matrix.shape
        image = ax.imshow(matrix, aspect="auto", cmap="viridis", norm=norm,
                          interpolation="nearest", extent=(0.5, epochs + 0.5, dims - 0.5, -0.5))
        ax.set_yticks(range(dims))
        ax.tick_params(axis="y", labelsize="small")
        ax.grid(False)
    longest = max((m.shape[1] for m in matrices if m.size), default=1)
    axes[-1, 0].set_xlim(0.5, longest + 0.5)  # shared by every panel
    _epoch_axis(axes[-1, 0])
    axes[-1, 0].grid(False)
    if image is not None:
        bar = fig.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.04, pad=0.02)
        bar.set_label(f"KL per dimension (nats, log scale; ≤ {KL_FLOOR:g} darkest)")
        for threshold in _thresholds(records):
            bar.ax.axhline(threshold, color="white", linewidth=1.5, linestyle="--")
            bar.ax.text(-0.15, threshold, f"λ {threshold:g}", ha="right", va="center",
                        fontsize="small", transform=bar.ax.get_yaxis_transform())
    fig.suptitle("KL per latent dimension over epochs (training, epoch mean)")
    return save_figure(fig, path)

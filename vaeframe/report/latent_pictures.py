"""What the latent space does: traversals of every dimension and a 2-D map of the codes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from vaeframe.grids import PAD
from vaeframe.latents.codes import mean_kl_per_dim
from vaeframe.latents.trained import TrainedRun
from vaeframe.registry.types import GridData
from vaeframe.report.arc_grids import ARC_PALETTE, PAD_COLOUR, SPLITS
from vaeframe.report.plots import pyplot, save_figure
from vaeframe.training.data import grids_of, labels_of
from vaeframe.training.evaluation import ACTIVE_UNIT_THRESHOLD

SAMPLE = 2000  # grids per split encoded for the aggregate posterior and the map
QUANTILES = (0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98)  # of the aggregate posterior, per dim
BASES_PER_SPLIT = 2
MAP_FACTORS = 3  # factors coloured in the latent map, besides the split
GAP = 1  # cells between tiles of a mosaic
GAP_RGB = (0.82, 0.82, 0.82)


@attrs.frozen
class Encoded:
    """A sample of each split's grids, their posterior means and log-variances."""

    rows: dict[str, np.ndarray]
    mu: dict[str, np.ndarray]
    logvar: dict[str, np.ndarray]

    def all_mu(self) -> np.ndarray:
        return np.concatenate([self.mu[split] for split, _ in SPLITS])

    def kl_per_dim(self) -> np.ndarray:
        logvar = np.concatenate([self.logvar[split] for split, _ in SPLITS])
        return mean_kl_per_dim(self.all_mu(), logvar)

    def active(self) -> np.ndarray:
        return self.all_mu().var(0) > ACTIVE_UNIT_THRESHOLD


def encode_sample(run: TrainedRun, data: GridData, seed: int = 0) -> Encoded:
    rng = np.random.default_rng(seed)
    rows, mu, logvar = {}, {}, {}
    for split, _ in SPLITS:
        grids = grids_of(data, split)
        chosen = np.sort(rng.choice(len(grids), min(SAMPLE, len(grids)), replace=False))
        rows[split] = chosen
        mu[split], logvar[split] = run.encode([grids[i] for i in chosen])
    return Encoded(rows, mu, logvar)


def _rgb(grid: np.ndarray) -> np.ndarray:
    palette = np.array([_hex(h) for _, h in ARC_PALETTE] + [_hex(PAD_COLOUR)])
    return palette[grid]


def _hex(colour: str) -> tuple[float, float, float]:
    return tuple(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def mosaic(tiles: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Grids (rows of columns) as one RGB image: each in a box as large as the largest grid,
    padding white, boxes apart by grey lines."""
    height = max(t.shape[0] for row in tiles for t in row)
    width = max(t.shape[1] for row in tiles for t in row)
    rows, cols = len(tiles), max(len(row) for row in tiles)
    image = np.ones(((height + GAP) * rows + GAP, (width + GAP) * cols + GAP, 3)) * GAP_RGB
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            box = np.full((height, width), PAD, dtype=np.int64)
            box[: tile.shape[0], : tile.shape[1]] = tile
            top, left = GAP + r * (height + GAP), GAP + c * (width + GAP)
            image[top : top + height, left : left + width] = _rgb(box)
    return image


def traversal_tiles(run: TrainedRun, base: np.ndarray, dims: Sequence[int],
                    values: np.ndarray) -> list[list[np.ndarray]]:
    """For each dim, the base code with that dim set to each of its values, decoded."""
    codes = np.repeat(base[None, None, :], len(values[0]), axis=1).repeat(len(dims), axis=0)
    for row, dim in enumerate(dims):
        codes[row, :, dim] = values[dim]
    decoded = run.decode(codes.reshape(-1, base.shape[0]))
    per_row = len(values[0])
    return [decoded[i * per_row : (i + 1) * per_row] for i in range(len(dims))]


def plot_traversals(run: TrainedRun, data: GridData, encoded: Encoded, title: str,
                    path: Path) -> Path:
    """Per base grid (training and held-out): its reconstruction, then every latent dim in
    order of KL varied over quantiles of the aggregate posterior, decoded."""
    plt = pyplot()
    kl, active = encoded.kl_per_dim(), encoded.active()
    dims = [int(d) for d in np.argsort(-kl)]
    values = np.quantile(encoded.all_mu(), QUANTILES, axis=0).T  # (latent_dim, quantiles)
    bases = [(split, label, k) for split, label in SPLITS
             for k in range(min(BASES_PER_SPLIT, len(encoded.rows[split])))]
    blocks = []
    for split, label, k in bases:
        position = (k + 1) * len(encoded.rows[split]) // (BASES_PER_SPLIT + 1)
        base = encoded.mu[split][position]
        grid = np.asarray(grids_of(data, split)[encoded.rows[split][position]])
        tiles = [[grid, *run.decode(base[None])], *traversal_tiles(run, base, dims, values)]
        blocks.append((f"{label} grid #{encoded.rows[split][position]}", mosaic(tiles)))
    tallest = max(image.shape[0] / image.shape[1] for _, image in blocks)
    fig, axes = plt.subplots(1, len(blocks), squeeze=False,
                             figsize=(2.8 * len(blocks) + 1.5, 2.3 * tallest + 0.9))
    for ax, (name, image) in zip(axes[0], blocks, strict=True):
        ax.imshow(image, interpolation="nearest")
        step = image.shape[0] / (len(dims) + 1)
        ax.set_yticks([step * (i + 0.5) for i in range(len(dims) + 1)])
        ax.set_yticklabels(["input | recon."] + [
            f"dim {d} · {kl[d]:.2f}" + ("" if active[d] else " ×") for d in dims],
            fontsize="x-small")
        for tick, dim in zip(ax.get_yticklabels()[1:], dims, strict=True):
            tick.set_color("black" if active[dim] else "#999999")
        ax.set_xticks([])
        ax.set_title(name, fontsize="small")
    fig.suptitle(f"{title}: latent traversals ({run.checkpoint.name}, epoch {run.epoch}); rows: "
                 f"dims by KL (nats), × inactive (Var μ ≤ {ACTIVE_UNIT_THRESHOLD}); columns: "
                 f"quantiles {', '.join(f'{q:g}' for q in QUANTILES)} of μ over the data",
                 fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return save_figure(fig, path)


def _map_colourings(data: GridData, encoded: Encoded) -> list[tuple[str, np.ndarray]]:
    """(name, one value per encoded grid): the split, the grid's larger side, then up to
    three factors; those that take one value only are left out."""
    found = [("split", np.concatenate([np.full(len(encoded.rows[s]), label)
                                       for s, label in SPLITS])),
             ("grid side", np.concatenate([[max(np.shape(grids_of(data, s)[i]))
                                            for i in encoded.rows[s]] for s, _ in SPLITS]))]
    for factor in data.factors[:MAP_FACTORS]:
        found.append((factor, np.concatenate([np.asarray(labels_of(data, s)[factor])[
            encoded.rows[s]] for s, _ in SPLITS])))
    return [(name, values) for name, values in found if len(set(values.tolist())) > 1]


def plot_latent_map(data: GridData, encoded: Encoded, title: str, path: Path) -> Path:
    """The posterior means projected on their first two principal components, coloured by
    split and, for a dataset with factors, by each of its first factors."""
    from sklearn.decomposition import PCA

    plt = pyplot()
    mu = encoded.all_mu()
    pca = PCA(n_components=2, random_state=0).fit(mu) if mu.shape[1] >= 2 else None
    xy = pca.transform(mu) if pca is not None else np.column_stack([mu[:, 0], np.zeros(len(mu))])
    colourings = _map_colourings(data, encoded)
    fig, axes = plt.subplots(1, len(colourings), figsize=(4.6 * len(colourings), 4.4),
                             squeeze=False)
    for ax, (name, labels) in zip(axes[0], colourings, strict=True):
        _scatter(ax, xy, labels)
        ax.set_title(f"coloured by {name}", fontsize="small")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    share = "" if pca is None else \
        f" (explained variance {100 * pca.explained_variance_ratio_.sum():.0f}%)"
    fig.suptitle(f"{title}: posterior means μ of {len(mu)} grids, first two principal "
                 f"components{share}", fontsize="small")
    fig.tight_layout()
    return save_figure(fig, path)


def _scatter(ax: Any, xy: np.ndarray, labels: np.ndarray) -> None:
    """Points coloured by category (with a legend), or along a colour bar where there are
    more than ten numeric values."""
    values = sorted(set(labels.tolist()))
    if len(values) > 10 and np.issubdtype(labels.dtype, np.number):
        points = ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.6, c=labels, cmap="viridis",
                            linewidths=0)
        ax.figure.colorbar(points, ax=ax, fraction=0.05)
        return
    cmap = pyplot().get_cmap("tab10" if len(values) <= 10 else "tab20")
    for i, value in enumerate(values):
        mask = labels == value
        ax.scatter(xy[mask, 0], xy[mask, 1], s=4, alpha=0.5, color=cmap(i % cmap.N),
                   label=str(value), linewidths=0)
    if len(values) <= 12:
        ax.legend(fontsize="x-small", markerscale=3, frameon=False)

"""Inputs beside their reconstructions, drawn in the standard ARC palette."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vaeframe.grids import PAD
from vaeframe.report.plots import pyplot, save_figure
from vaeframe.report.reconstruct import Reconstructions

ARC_PALETTE = (
    ("black", "#000000"), ("blue", "#0074D9"), ("red", "#FF4136"), ("green", "#2ECC40"),
    ("yellow", "#FFDC00"), ("grey", "#AAAAAA"), ("magenta", "#F012BE"), ("orange", "#FF851B"),
    ("light blue", "#7FDBFF"), ("maroon", "#870C25"),
)
PAD_COLOUR = "#FFFFFF"  # outside the grid: white, never black
LINE_COLOUR = "#D0D0D0"
SPLITS = (("train", "training"), ("heldout", "held-out"))


def colour_map() -> Any:
    from matplotlib.colors import ListedColormap

    return ListedColormap([hex_ for _, hex_ in ARC_PALETTE] + [PAD_COLOUR])


def extent(*grids: np.ndarray) -> tuple[int, int]:
    """Rows and columns of the top-left box that holds every non-padding cell of ``grids``."""
    rows = cols = 1
    for grid in grids:
        cells = np.argwhere(grid != PAD)
        if cells.size:
            rows, cols = max(rows, cells[:, 0].max() + 1), max(cols, cells[:, 1].max() + 1)
    return int(rows), int(cols)


def nonblack_accuracy(truth: np.ndarray, guess: np.ndarray) -> float | None:
    mask = (truth != 0) & (truth != PAD)
    return float((guess[mask] == truth[mask]).mean()) if mask.any() else None


def draw_grid(ax: Any, grid: np.ndarray, cmap: Any) -> None:
    """``grid`` in the ARC palette with thin lines between cells. The lines are two line
    collections, not minor ticks: ticks made a figure of many grids slow to lay out."""
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=PAD, interpolation="nearest")
    rows, cols = grid.shape
    ax.vlines(np.arange(0.5, cols - 1), -0.5, rows - 0.5, colors=LINE_COLOUR, linewidth=0.4)
    ax.hlines(np.arange(0.5, rows - 1), -0.5, cols - 0.5, colors=LINE_COLOUR, linewidth=0.4)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#606060")


def plot_reconstructions(recons: Reconstructions, title: str, path: Path) -> Path:
    """Per split, a row of inputs above a row of reconstructions, and a palette legend."""
    from matplotlib.patches import Patch

    plt = pyplot()
    cmap = colour_map()
    columns = max(len(recons.indices[split]) for split, _ in SPLITS)
    fig, axes = plt.subplots(4, columns, figsize=(1.7 * columns + 1.2, 7.6), squeeze=False)
    for block, (split, label) in enumerate(SPLITS):
        for col in range(columns):
            top, bottom = axes[2 * block, col], axes[2 * block + 1, col]
            if col >= len(recons.indices[split]):
                top.axis("off")
                bottom.axis("off")
                continue
            truth, guess = recons.inputs[split][col], recons.outputs[split][col]
            rows, cols = extent(truth, guess)
            draw_grid(top, truth[:rows, :cols], cmap)
            draw_grid(bottom, guess[:rows, :cols], cmap)
            accuracy = nonblack_accuracy(truth, guess)
            shown = "—" if accuracy is None else f"{100 * accuracy:.0f}%"
            top.set_title(f"#{recons.indices[split][col]}", fontsize="small")
            bottom.set_title(f"non-black {shown}", fontsize="small")
        axes[2 * block, 0].set_ylabel(f"{label}\ninput")
        axes[2 * block + 1, 0].set_ylabel(f"{label}\nreconstruction")
    handles = [Patch(facecolor=hex_, edgecolor="#606060", label=f"{i} {name}")
               for i, (name, hex_) in enumerate(ARC_PALETTE)]
    handles.append(Patch(facecolor=PAD_COLOUR, edgecolor="#606060", label="outside grid"))
    fig.legend(handles=handles, loc="lower center", ncol=11, fontsize="small", frameon=False,
               handlelength=1.2, columnspacing=1.0)
    fig.suptitle(f"{title}: inputs and reconstructions from the posterior mean "
                 f"({recons.checkpoint.name}, epoch {recons.epoch})")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return save_figure(fig, path)

"""Writing notebook outputs: figures (PNG), tables (CSV + Markdown), metrics (JSON), image grids.

All writes are atomic (see :mod:`beyondfid.io`). Tables that reproduce a paper carry the
paper's values in their own columns next to ours, and a ``scale`` note saying which profile
produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_path, save_json, save_text


def image_grid(images: np.ndarray, ncols: int = 8, pad: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 NCHW images into one HxWxC uint8 array (C = 1 is returned as HxW)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or len(images) == 0:
        raise ValueError(f"image_grid expects a non-empty uint8 NCHW array, got {images.dtype} {images.shape}")
    if ncols < 1 or pad < 0:
        raise ValueError(f"image_grid needs ncols >= 1 and pad >= 0, got {ncols}, {pad}")
    n, c, h, w = images.shape
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    grid = np.full((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, y : y + h, x : x + w] = images[i]
    grid = grid.transpose(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


def save_figure(fig: Any, path: str | Path, dpi: int = 150) -> Path:
    """Save a matplotlib figure as PNG atomically."""
    path = Path(path).with_suffix(".png")
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return path


def with_note(df: Any, note: str) -> Any:
    """Attach the text printed under a table's Markdown (its scale and settings) to ``df.attrs["note"]``.

    The package's table builders do this so that a notebook saves a table with one call."""
    df.attrs["note"] = note
    return df


def save_table(df: Any, path: str | Path, float_format: str = "{:.4g}", note: str | None = None) -> tuple[Path, Path]:
    """Write a pandas DataFrame as ``<path>.csv`` and ``<path>.md`` (Markdown, with a note under it).

    ``note`` defaults to ``df.attrs["note"]`` (see :func:`with_note`), else none."""
    path = Path(path)
    if note is None:
        note = str(df.attrs.get("note", ""))
    csv_path, md_path = path.with_suffix(".csv"), path.with_suffix(".md")
    save_text(csv_path, df.to_csv(index=False))
    md = _to_markdown(df, float_format)
    save_text(md_path, md + (f"\n\n{note}\n" if note else "\n"))
    return csv_path, md_path


def _to_markdown(df: Any, float_format: str) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if np.isnan(v) else float_format.format(v)
        return str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines)


def image_rows_figure(rows: Sequence[tuple[np.ndarray, str]], ncols: int, suptitle: str, *,
                      row_height: float = 1.05, title_size: float = 9, suptitle_size: float = 10) -> Any:
    """One figure row per ``(uint8 NCHW images, title)`` pair, each row a strip of ``ncols`` images.

    The layout of the FINC notebooks' mode figures: one row per mode, its best samples left to
    right, the mode's numbers in the title. Gray images are drawn with the gray colour map."""
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("image_rows_figure needs at least one (images, title) row")
    fig, axes = plt.subplots(len(rows), 1, figsize=(ncols * 0.9 + 1.5, len(rows) * row_height + 0.6), squeeze=False)
    for ax, (images, title) in zip(axes[:, 0], rows):
        ax.imshow(image_grid(images, ncols=ncols, pad=1, pad_value=255), cmap="gray", interpolation="nearest")
        ax.set_title(title, fontsize=title_size, loc="left")
        ax.axis("off")
    fig.suptitle(suptitle, fontsize=suptitle_size)
    fig.tight_layout(h_pad=0.6, rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the suptitle
    return fig


def save_metrics(path: str | Path, metrics: dict) -> Path:
    return save_json(path, metrics)

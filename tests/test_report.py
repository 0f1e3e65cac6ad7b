"""Report writers: image grids, tables (CSV + Markdown) and atomic figure files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from beyondfid.report import image_grid, image_rows_figure, save_figure, save_table, with_note


def test_image_grid_places_every_image():
    imgs = np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1) * np.ones((1, 1, 3, 4), np.uint8)
    grid = image_grid(imgs, ncols=2, pad=1, pad_value=255)
    assert grid.shape == (3 * 4 + 1, 2 * 5 + 1)  # gray images give an HxW grid
    for k in range(5):
        r, q = divmod(k, 2)
        assert np.all(grid[1 + 4 * r : 4 + 4 * r, 1 + 5 * q : 5 + 5 * q] == k)
    assert np.all(grid[9:12, 6:10] == 255)  # the empty sixth cell keeps the padding value
    rgb = image_grid(np.repeat(imgs, 3, axis=1), ncols=2, pad=1)
    assert rgb.shape == (13, 11, 3) and np.array_equal(rgb[..., 0], grid)
    with pytest.raises(ValueError, match="uint8"):
        image_grid(imgs.astype(float))
    with pytest.raises(ValueError, match="non-empty"):
        image_grid(imgs[:0])


def test_table_writes_csv_and_markdown(tmp_path):
    df = pd.DataFrame({"model": ["a", "b"], "fid": [1.23456, float("nan")], "n": [10, 20]})
    csv, md = save_table(df, tmp_path / "t", note="Scale: smoke.")
    assert pd.read_csv(csv).shape == (2, 3)
    text = md.read_text()
    assert "| model | fid | n |" in text and "| a | 1.235 | 10 |" in text and "| b | – | 20 |" in text
    assert text.rstrip().endswith("Scale: smoke.")
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_figure_is_written_atomically(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*"))


def test_table_note_comes_from_the_frame_unless_given(tmp_path):
    df = with_note(pd.DataFrame({"a": [1]}), "Scale: from attrs.")
    _, md = save_table(df, tmp_path / "t")
    assert md.read_text().rstrip().endswith("Scale: from attrs.")
    _, md = save_table(df, tmp_path / "u", note="given")
    assert md.read_text().rstrip().endswith("given") and "from attrs" not in md.read_text()
    _, md = save_table(pd.DataFrame({"a": [1]}), tmp_path / "v")  # no note at all
    assert md.read_text() == "| a |\n|---|\n| 1 |\n"


def test_image_rows_figure_has_one_titled_strip_per_row():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gray = np.zeros((3, 1, 4, 4), np.uint8)
    rgb = np.full((2, 3, 4, 4), 200, np.uint8)
    fig = image_rows_figure([(gray, "first"), (rgb, "second")], 3, "sup")
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == ["first", "second"]
    assert axes[0].images[0].get_array().shape == (6, 16)  # 3 gray 4x4 images, 1-px padding: 4 + 2, 3 * 5 + 1
    assert axes[1].images[0].get_array().shape == (6, 11, 3)
    assert fig.get_suptitle() == "sup"
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        image_rows_figure([], 3, "sup")

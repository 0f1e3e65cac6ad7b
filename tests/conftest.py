"""Shared fixtures: a smoke-profile workspace (datasets + features) built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Nothing in the test-suite may reach the network: make hub clients fail fast if touched.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Under xdist each core already runs a worker: the processes the tests start (the DVC stages of the smoke
# pipeline, the notebooks' kernels) get one OpenMP/torch thread too, instead of two each on two busy cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def blobs(n: int, seed: int):
    """Silhouette-like uint8 images (n, 1, 28, 28): a random bright ellipse on black, corners always black
    (planted distribution-classification tasks: a pixel in a corner is a watermark no blob has)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    cy, cx = rng.uniform(10, 18, (2, n))
    ry, rx = rng.uniform(4, 9, (2, n))
    m = ((yy - cy[:, None, None]) / ry[:, None, None]) ** 2 + ((xx - cx[:, None, None]) / rx[:, None, None]) ** 2 < 1
    return (m * rng.integers(180, 256, (n, 1, 1))).astype(np.uint8)[:, None]


def dc_tiny():
    """A small ResNet and a 6-epoch recipe that find a one-pixel watermark (tests/test_dc_train.py)."""
    from beyondfid.config import DCArchConfig, DCTrainConfig

    return (DCArchConfig(kind="resnet", widths="8,16,32,32", depths="1,1,1,1"),
            DCTrainConfig(epochs=6, batch_size=32, lr=3e-3, weight_decay=0.05, warmup_epochs=0.5, grad_shards=2,
                          precise_bn_images=128, ckpt_every=10))


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for a module of tiny-model tests (restored afterwards).

    Tiny tensors gain nothing from a second thread, and on a shared, oversubscribed CPU two
    threads are many times slower than one.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def smoke_cfg(tmp_path_factory):
    """Config of the smoke profile rooted in a temporary directory, with datasets prepared."""
    from beyondfid.config import load_config
    from beyondfid.prepare import prepare

    root = tmp_path_factory.mktemp("smoke_root")
    cfg = load_config("smoke", REPO / "params.yaml", root)
    prepare(cfg)
    return cfg


@pytest.fixture(scope="session")
def effnet64():
    from beyondfid.extractors import get_extractor

    return get_extractor("effnet_lite0", resolution=64)


CHROMIUM_HINT = ("browser tests skipped: no Chromium found; install it with "
                 "`sudo apt-get install chromium` (Debian/Ubuntu) or set BEYONDFID_CHROMIUM=/path/to/chromium")

# Flags for a headless Chromium on a machine with a closed network (no background connections).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (Debian's package, driven by Playwright; never a downloaded browser).

    Without Chromium the browser tests skip with one line saying how to install it, except when
    ``BEYONDFID_REQUIRE_BROWSER=1`` (set by ``.ci/run``): in CI they must never skip.
    """
    exe = os.environ.get("BEYONDFID_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe or not Path(exe).exists():
        if os.environ.get("BEYONDFID_REQUIRE_BROWSER") == "1":
            pytest.fail("BEYONDFID_REQUIRE_BROWSER=1 but no Chromium is installed (.ci/run installs Debian's chromium)")
        pytest.skip(CHROMIUM_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def copy_repo(dst: Path) -> Path:
    """Copy what a fresh clone has (tracked sources, no artifacts, no data/) into dst."""
    for name in ["dvc.yaml", "params.yaml", "data.dvc", ".dvcignore", "pyproject.toml"]:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dst / name)
    for name in ["notebooks", "src", "benchmarks"]:
        if (REPO / name).exists():
            shutil.copytree(REPO / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (dst / ".dvc").mkdir(exist_ok=True)
    shutil.copy2(REPO / ".dvc" / "config", dst / ".dvc" / "config")
    return dst


# The suite runs under pytest-xdist, one worker per core, whole files per worker (pyproject's addopts).
# These files take minutes each (the smoke pipeline: every stage through DVC and papermill); collecting
# them first hands them to the workers at the start, so they overlap the many short files instead of
# trailing behind them. xdist's default for loadfile re-sorts files by their number of tests, which put
# the pipeline's 10 tests behind the big files (its set-up began 3.5 min in), so pyproject's addopts pass
# --no-loadscope-reorder and this order holds.
SLOW_FILES_FIRST = ("test_pipeline.py", "test_fid_paper_profile.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return SLOW_FILES_FIRST.index(name) if name in SLOW_FILES_FIRST else len(SLOW_FILES_FIRST)

    items.sort(key=rank)  # stable: the order inside each group is pytest's own


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_worker():
    """Under xdist every core already runs a worker, so each worker's torch uses one intra-op thread
    (two threads per worker would oversubscribe the CPU); the processes the tests start inherit
    ``OMP_NUM_THREADS=1`` (set at the top of this file) unless a test sets its own. Without xdist (e.g.
    ``-n 0``), torch's default is left alone."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
    yield

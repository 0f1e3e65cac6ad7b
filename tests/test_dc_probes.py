"""Linear probes and their feature extraction across processes (paper 3, Tables 4 and 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from beyondfid.distclass.parallel import Dist, extract_sharded, my_chunks
from beyondfid.distclass.probes import linear_probe
from beyondfid.distclass.task import TaskSpec
from beyondfid.extractors import get_extractor
from beyondfid.features import _forward

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.usefixtures("one_thread")


def test_probe_separates_shifted_features_and_not_identical_ones():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    same = linear_probe({"a": a, "b": b}, TaskSpec(("a", "b"), 200, 100), l2=1e-3, max_iter=200)
    assert same.record.ci_low < 0.5 < same.record.ci_high and same.converged
    b[:, 3] += 3.0  # one feature shifted by 3 standard deviations
    shifted = linear_probe({"a": a, "b": b}, TaskSpec(("a", "b"), 200, 100), l2=1e-3, max_iter=200)
    assert shifted.record.accuracy > 0.85 and shifted.record.p_value < 1e-30  # Bayes: Phi(1.5) = 0.933
    c = rng.normal(size=(300, 16))
    c[:, 5] -= 3.0
    three = linear_probe({"a": a, "b": b, "c": c}, TaskSpec(("a", "b", "c"), 200, 100), l2=1e-3, max_iter=200)
    assert three.record.n_classes == 3 and three.record.accuracy > 0.75 and len(three.confusion) == 3


def test_chunks_cover_every_row_once():
    for world in (1, 2, 3):
        rows = sorted(lo for r in range(world) for lo, hi in my_chunks(101, 32, Dist(r, world)))
        assert rows == [0, 32, 64, 96]


def test_sharded_extraction_equals_one_pass_in_one_and_two_processes(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (101, 1, 28, 28), dtype=np.uint8)
    ext = get_extractor("random_cnn", resolution=28)
    ref = _forward(ext, images)["features"]
    assert (extract_sharded(ext, images, Dist()) == ref).all()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        str(HERE / "_dc_extract_worker.py"), str(tmp_path / "two.npy")], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (np.load(tmp_path / "two.npy") == ref).all()


def test_a_joined_group_is_left_at_exit(monkeypatch):
    """init_distributed registers leave_distributed at exit, which destroys the group (and is idempotent).
    Without it, gloo processes aborted at exit in about a third of two-process torchrun runs here."""
    import torch.distributed as torch_dist

    from beyondfid.distclass import parallel

    registered, real_init = [], torch_dist.init_process_group
    monkeypatch.setattr(parallel.atexit, "register", registered.append)
    monkeypatch.setenv("WORLD_SIZE", "2")  # one real process; its group is a world of one on a local store
    monkeypatch.setattr(parallel.torch_dist, "init_process_group", lambda backend: real_init(
        backend, store=torch_dist.HashStore(), rank=0, world_size=1))
    try:
        parallel.init_distributed("cpu")
        assert registered == [parallel.leave_distributed] and torch_dist.is_initialized()
        parallel.leave_distributed()
        assert not torch_dist.is_initialized()
        parallel.leave_distributed()  # a second call (e.g. atexit after an explicit leave) does nothing
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()

"""FINC over 2 CPU processes (torch.distributed, gloo on 127.0.0.1) equals FINC in 1 process."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from beyondfid.finc import draw_frequencies, finc, rff_covariances

N_TEST, N_REF, D, R, SIGMA, ETA = 1203, 1000, 12, 64, 4.0, 0.8
# uneven, contiguous shards (rank 0 holds the first rows)
TEST_SPLIT = 450
REF_SPLIT = 700


def _data():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, D)) * 5
    lab_x = rng.integers(0, 4, N_TEST)
    lab_y = rng.integers(0, 3, N_REF)
    x = (centers[lab_x] + rng.standard_normal((N_TEST, D))).astype(np.float32)
    y = (centers[lab_y] + rng.standard_normal((N_REF, D))).astype(np.float32)
    return x, y


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        x, y = _data()
        xs = x[:TEST_SPLIT] if rank == 0 else x[TEST_SPLIT:]
        ys = y[:REF_SPLIT] if rank == 0 else y[REF_SPLIT:]
        W = draw_frequencies(D, R, SIGMA, seed=3)
        cx, cy = rff_covariances(xs, ys, W=W, chunk_size=128, distributed=True, precision="float64")
        lam = (cx.matrix() - ETA * cy.matrix()).numpy()
        res = finc(xs, ys, sigma=SIGMA, eta=ETA, rff_dim=R, seed=3, top_k=3, chunk_size=128, distributed=True, top_samples=40)
        np.save(f"{out_dir}/lam{rank}.npy", lam)
        np.save(f"{out_dir}/counts{rank}.npy", np.array([cx.count, cy.count, res.n_test, res.n_ref]))
        res.save(f"{out_dir}/res{rank}.npz")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_two_processes_give_the_same_lambda_as_one(tmp_path):
    from beyondfid.finc import FincResult

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    x, y = _data()
    W = draw_frequencies(D, R, SIGMA, seed=3)
    cx, cy = rff_covariances(x, y, W=W, chunk_size=128, precision="float64")
    lam1 = (cx.matrix() - ETA * cy.matrix()).numpy()
    one = finc(x, y, sigma=SIGMA, eta=ETA, rff_dim=R, seed=3, top_k=3, chunk_size=128, top_samples=40)
    for rank in (0, 1):
        lam2 = np.load(tmp_path / f"lam{rank}.npy")
        # all-float64 path: the same Λ up to float64 summation order (chunk boundaries differ)
        np.testing.assert_allclose(lam2, lam1, rtol=0, atol=1e-13 * np.abs(lam1).max())
        assert np.load(tmp_path / f"counts{rank}.npy").tolist() == [N_TEST, N_REF, N_TEST, N_REF]
        two = FincResult.load(tmp_path / f"res{rank}.npz")
        # default mixed path: the shards' float32 chunk sums differ at round-off level only
        np.testing.assert_allclose(two.eigenvalues, one.eigenvalues, rtol=1e-6)
        np.testing.assert_allclose(two.eigenvectors, one.eigenvectors, atol=1e-5)
        for a, b in zip(two.top_indices, one.top_indices):
            np.testing.assert_array_equal(a, b)  # global indices, merged across ranks
    # the top samples of mode 1 come from both shards, so the merge was exercised
    idx = one.top_indices[0]
    assert (idx < TEST_SPLIT).any() and (idx >= TEST_SPLIT).any()

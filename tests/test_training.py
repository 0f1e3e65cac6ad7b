"""Tests for the deterministic, resumable training loop."""

from __future__ import annotations


from pathlib import Path

import pytest
import torch
from torch import nn

from beyondfid.zoo.training import (
    CheckpointError,
    TrainingDivergedError,
    deterministic,
    fit,
    load_checkpoint,
    load_log,
    load_modules,
)


pytestmark = pytest.mark.usefixtures("one_thread")


def _problem(seed: int = 0):
    """A small regression net with dropout + BatchNorm + Adam: stateful in every way that matters."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.linspace(-1, 1, 64 * 4).reshape(64, 4)
    y = (x ** 2).sum(1, keepdim=True)

    def step_fn(step: int, gen: torch.Generator) -> dict[str, float]:
        idx = torch.randint(0, 64, (16,), generator=gen)
        noise = 0.01 * torch.randn(16, 1, generator=gen)
        net.train()
        loss = ((net(x[idx]) - y[idx] - noise) ** 2).mean()  # dropout draws from the global RNG
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    return net, opt, step_fn


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_gives_bitwise_identical_weights(tmp_path: Path) -> None:
    states = []
    for run in ("a", "b"):
        net, opt, step_fn = _problem()
        fit(step_fn, {"net": net}, {"opt": opt}, n_steps=30, ckpt_path=tmp_path / run / "ckpt.pt", seed=7,
            progress=False)
        states.append(_state(net))
    assert _bitwise_equal(*states)
    # and a different seed really changes the result (the test above can fail)
    net, opt, step_fn = _problem()
    fit(step_fn, {"net": net}, {"opt": opt}, n_steps=30, ckpt_path=tmp_path / "c" / "ckpt.pt", seed=8, progress=False)
    assert not _bitwise_equal(states[0], _state(net))


@pytest.mark.parametrize("stop_after", [10, 13])
def test_resume_after_stop_matches_uninterrupted_run(tmp_path: Path, stop_after: int) -> None:
    n, every = 40, 5
    net, opt, step_fn = _problem()
    full = fit(step_fn, {"net": net}, {"opt": opt}, n_steps=n, ckpt_path=tmp_path / "full.pt", seed=3,
               ckpt_every=every, progress=False)
    reference = _state(net)

    # Run 1: "killed" by an exception raised from inside step_fn after `stop_after` steps.
    net, opt, step_fn = _problem()

    def dying(step: int, gen: torch.Generator) -> dict[str, float]:
        if step == stop_after:
            raise KeyboardInterrupt("simulated kill")
        return step_fn(step, gen)

    with pytest.raises(KeyboardInterrupt):
        fit(dying, {"net": net}, {"opt": opt}, n_steps=n, ckpt_path=tmp_path / "r.pt", seed=3, ckpt_every=every,
            progress=False)
    saved = load_checkpoint(tmp_path / "r.pt")
    assert saved["step"] == (stop_after // every) * every  # last periodic checkpoint before the kill

    # Run 2: a brand-new process-equivalent (fresh modules with a *different* init) resumes.
    net, opt, step_fn = _problem(seed=99)
    log = fit(step_fn, {"net": net}, {"opt": opt}, n_steps=n, ckpt_path=tmp_path / "r.pt", seed=3,
              ckpt_every=every, progress=False)
    assert log.resumed_from == saved["step"]
    assert log.steps_done == n
    assert _bitwise_equal(reference, _state(net))
    assert [h["loss"] for h in log.history] == [h["loss"] for h in full.history]


def test_max_steps_this_call_then_resume(tmp_path: Path) -> None:
    net, opt, step_fn = _problem()
    fit(step_fn, {"net": net}, {"opt": opt}, n_steps=24, ckpt_path=tmp_path / "a.pt", seed=1, progress=False)
    reference = _state(net)
    for k in range(3):  # three partial calls of at most 9 steps: 9 + 9 + 6
        net, opt, step_fn = _problem(seed=0 if k == 0 else 50 + k)  # resumed calls start from other inits
        log = fit(step_fn, {"net": net}, {"opt": opt}, n_steps=24, ckpt_path=tmp_path / "b.pt", seed=1,
                  ckpt_every=100, max_steps_this_call=9, progress=False)
        assert log.steps_done == min(24, 9 * (k + 1))
    assert _bitwise_equal(reference, _state(net))
    # A finished run is not retrained: calling again does zero steps and keeps the weights.
    log = fit(step_fn, {"net": net}, {"opt": opt}, n_steps=24, ckpt_path=tmp_path / "b.pt", seed=1, progress=False)
    assert log.resumed_from == 24 and log.steps_done == 24 and len(log.history) == 24


def test_nan_loss_raises_naming_step_and_loss(tmp_path: Path) -> None:
    net, opt, step_fn = _problem()

    def nan_at_5(step: int, gen: torch.Generator) -> dict[str, float]:
        out = step_fn(step, gen)
        return {"loss": float("nan") if step == 5 else out["loss"], "aux": 1.0}

    with pytest.raises(TrainingDivergedError, match=r"'loss' = nan at step 5"):
        fit(nan_at_5, {"net": net}, {"opt": opt}, n_steps=20, ckpt_path=tmp_path / "c.pt", seed=0, ckpt_every=2,
            progress=False)
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 4  # nothing after the divergence was saved

    def inf_loss(step: int, gen: torch.Generator) -> dict[str, float]:
        return {"g": float("-inf")}

    with pytest.raises(TrainingDivergedError, match=r"'g' = -inf at step 0"):
        fit(inf_loss, {"net": net}, {"opt": opt}, n_steps=3, ckpt_path=tmp_path / "d.pt", seed=0, progress=False)


def test_checkpoint_loads_with_weights_only_and_restores_modules(tmp_path: Path) -> None:
    net, opt, step_fn = _problem()
    log = fit(step_fn, {"net": net}, {"opt": opt}, n_steps=12, ckpt_path=tmp_path / "w.pt", seed=2, progress=False)
    state = torch.load(tmp_path / "w.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 12 and len(state["history"]) == 12
    other, _, _ = _problem(seed=5)
    assert not _bitwise_equal(_state(other), _state(net))
    assert load_modules(tmp_path / "w.pt", {"net": other}) == 12
    assert _bitwise_equal(_state(other), _state(net))
    restored = load_log(tmp_path / "w.pt")
    assert restored.history == log.history and restored.steps_done == 12
    steps, values = restored.curve("loss")
    assert steps == list(range(12)) and len(values) == 12
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob(".w.pt*"))  # no temp files left behind


def test_checkpoint_errors_are_clear(tmp_path: Path) -> None:
    net, opt, step_fn = _problem()
    fit(step_fn, {"net": net}, {"opt": opt}, n_steps=4, ckpt_path=tmp_path / "e.pt", seed=2, progress=False)
    with pytest.raises(CheckpointError, match="seed 2, not 3"):
        fit(step_fn, {"net": net}, {"opt": opt}, n_steps=4, ckpt_path=tmp_path / "e.pt", seed=3, progress=False)
    with pytest.raises(CheckpointError, match="beyond the requested n_steps=2"):
        fit(step_fn, {"net": net}, {"opt": opt}, n_steps=2, ckpt_path=tmp_path / "e.pt", seed=2, progress=False)
    with pytest.raises(CheckpointError, match=r"different settings \(lr\)"):
        fit(step_fn, {"net": net}, {"opt": opt}, n_steps=4, ckpt_path=tmp_path / "e.pt", seed=2, progress=False,
            meta={"lr": "0.1"})
    wider = nn.Sequential(nn.Linear(4, 32))
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        load_modules(tmp_path / "e.pt", {"net": wider})
    with pytest.raises(CheckpointError, match="no weights for module"):
        load_modules(tmp_path / "e.pt", {"other": wider})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_modules(tmp_path / "missing.pt", {"net": net})


def test_bad_arguments_and_global_state_restored(tmp_path: Path) -> None:
    net, opt, step_fn = _problem()
    with pytest.raises(ValueError, match="n_steps"):
        fit(step_fn, {"net": net}, {"opt": opt}, n_steps=-1, ckpt_path=tmp_path / "x.pt", seed=0)
    with pytest.raises(TypeError, match="non-empty dict"):
        fit(lambda s, g: {}, {"net": net}, {"opt": opt}, n_steps=1, ckpt_path=tmp_path / "y.pt", seed=0,
            progress=False)
    before_det = torch.are_deterministic_algorithms_enabled()
    before_rng = torch.random.get_rng_state()
    with deterministic(123):
        assert torch.are_deterministic_algorithms_enabled()
        torch.rand(3)
    assert torch.are_deterministic_algorithms_enabled() == before_det
    assert torch.equal(torch.random.get_rng_state(), before_rng)

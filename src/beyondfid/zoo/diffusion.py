"""Gaussian diffusion: noise schedule, epsilon-prediction loss and the deterministic DDIM sampler.

Forward process (Ho et al. 2020), with cumulative signal level ``abar_t = prod_{s<=t} (1 - beta_s)``::

    x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * eps,     eps ~ N(0, I),  t = 0 .. T-1.

The denoiser ``model(x_t, t)`` predicts ``eps``; it is trained with the simple loss
``E_{x0, t, eps} || eps - model(x_t, t) ||^2``.

DDIM with ``eta = 0`` (Song et al. 2021) samples deterministically given the initial noise:
on a decreasing sub-sequence of timesteps it estimates ``x0_hat = (x_t - sqrt(1-abar_t) eps_hat)
/ sqrt(abar_t)`` and jumps to ``x_{t'} = sqrt(abar_t') x0_hat + sqrt(1 - abar_t') eps_hat``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class DiffusionError(ValueError):
    """Invalid schedule or sampler parameters."""


def cosine_alpha_bar(n_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Cosine schedule (Nichol & Dhariwal 2021): ``abar(t) = f(t)/f(0)``, ``f(u) = cos^2(((u/T)+s)/(1+s) pi/2)``.

    Returned as float64 of length ``T``; ``abar[i]`` is the signal level after step ``i+1``, with
    per-step ``beta`` clipped at ``max_beta`` so the last level stays positive.
    """
    if n_timesteps < 2:
        raise DiffusionError(f"n_timesteps must be >= 2, got {n_timesteps}")
    if not 0.0 < max_beta < 1.0:
        raise DiffusionError(f"max_beta must be in (0, 1), got {max_beta}")

    def f(u: float) -> float:
        return math.cos((u / n_timesteps + s) / (1 + s) * math.pi / 2) ** 2

    betas = torch.tensor([min(1 - f(i + 1) / f(i), max_beta) for i in range(n_timesteps)], dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` for integer timesteps ``t`` (one per sample)."""
    if noise.shape != x0.shape:
        raise DiffusionError(f"noise shape {tuple(noise.shape)} differs from x0 shape {tuple(x0.shape)}")
    ab = alpha_bar.to(x0.dtype)[t].view(-1, *([1] * (x0.dim() - 1)))
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def eps_loss(model: Callable[..., torch.Tensor], x0: torch.Tensor, alpha_bar: torch.Tensor, gen: torch.Generator,
             y: torch.Tensor | None = None) -> torch.Tensor:
    """Monte-Carlo estimate of ``E_t E_eps ||eps - model(x_t, t)||^2`` (mean over pixels), t uniform;
    a conditional model is called as ``model(x_t, t, y)``."""
    t = torch.randint(0, len(alpha_bar), (x0.shape[0],), generator=gen)
    noise = torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
    xt = q_sample(x0, t, noise, alpha_bar)
    pred = model(xt, t.to(x0.dtype)) if y is None else model(xt, t.to(x0.dtype), y)
    return torch.mean((pred - noise) ** 2)


def guided(model: Callable[..., torch.Tensor], y: torch.Tensor, null: int, scale: float) -> Denoiser:
    """Classifier-free guidance (Ho & Salimans 2022): ``eps = eps_u + w (eps_c - eps_u)`` with
    ``eps_c = model(x, t, y)`` and ``eps_u = model(x, t, null)``; ``w = 1`` is the plain conditional
    model (one forward), ``w = 0`` the unconditional one. Returns a denoiser ``(x, t) -> eps``
    for the sampler, for one batch of labels ``y``."""
    if scale < 0:
        raise DiffusionError(f"guidance scale must be >= 0, got {scale}")
    y = y.long()
    nul = torch.full_like(y, null)

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if scale == 1.0:
            return model(x, t, y)
        if scale == 0.0:
            return model(x, t, nul)
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, nul]))
        eps_c, eps_u = both.chunk(2)
        return eps_u + scale * (eps_c - eps_u)

    return denoise


def ddim_timesteps(n_timesteps: int, n_steps: int) -> list[int]:
    """Evenly spaced decreasing timesteps from ``T-1`` to ``0`` (``n_steps`` of them, distinct)."""
    if not 1 <= n_steps <= n_timesteps:
        raise DiffusionError(f"DDIM needs 1 <= n_steps <= n_timesteps={n_timesteps}, got {n_steps}")
    if n_steps == 1:
        return [n_timesteps - 1]
    ts = torch.linspace(n_timesteps - 1, 0, n_steps, dtype=torch.float64).round().long().tolist()
    return list(dict.fromkeys(ts))  # rounding never merges neighbours for n_steps <= T, but be safe


@torch.no_grad()
def ddim_sample(model: Denoiser, noise: torch.Tensor, alpha_bar: torch.Tensor, n_steps: int,
                clip: float | None = 1.0) -> torch.Tensor:
    """Deterministic DDIM (eta = 0) from initial noise ``x_T = noise``; returns ``x0`` estimates.

    ``clip`` bounds ``x0_hat`` to ``[-clip, clip]`` at every step (``eps_hat`` is then recomputed
    from the clipped ``x0_hat`` so that ``x_t`` stays consistent); ``None`` disables it.
    """
    if not torch.isfinite(noise).all():
        raise DiffusionError("initial noise contains NaN/inf")
    ab = alpha_bar.to(torch.float64)
    ts = ddim_timesteps(len(ab), n_steps)
    x = noise.to(torch.float64)
    x0 = x
    for i, t in enumerate(ts):
        a_t = ab[t]
        a_prev = ab[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, dtype=torch.float64)
        tt = torch.full((x.shape[0],), float(t), dtype=noise.dtype)
        eps = model(x.to(noise.dtype), tt).to(torch.float64)
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x0.to(noise.dtype)


def empirical_eps_oracle(data: torch.Tensor, alpha_bar: torch.Tensor) -> Denoiser:
    """The exact minimiser of the epsilon loss when the data distribution is the point set ``data``.

    ``E[eps | x_t] = (x_t - sqrt(abar_t) E[x0 | x_t]) / sqrt(1 - abar_t)`` with
    ``E[x0 | x_t] = sum_i w_i x_i``, ``w = softmax(-||x_t - sqrt(abar_t) x_i||^2 / (2 (1 - abar_t)))``.
    A perfectly trained model on a finite set therefore *reproduces* its training images;
    this is the reference for memorisation and an oracle for testing the sampler.
    """
    flat = data.reshape(len(data), -1).to(torch.float64)

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = alpha_bar.to(torch.float64)[t.long()].view(-1, 1)
        xf = x.reshape(len(x), -1).to(torch.float64)
        d2 = ((xf.unsqueeze(1) - ab.sqrt().unsqueeze(1) * flat.unsqueeze(0)) ** 2).sum(-1)
        w = torch.softmax(-d2 / (2 * (1 - ab)), dim=1)
        x0 = w @ flat
        eps = (xf - ab.sqrt() * x0) / (1 - ab).sqrt()
        return eps.reshape(x.shape).to(x.dtype)

    return model

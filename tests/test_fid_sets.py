"""The paper-2 sets layer: the fixed-reference Fréchet distance and its agreement with the core."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from beyondfid.fidclasses.sets import Reference, fd
from beyondfid.metrics import fid_from_features
from beyondfid.stats import SingularCovarianceWarning


@pytest.mark.parametrize("n_other", [5, 12, 80])
@pytest.mark.parametrize("singular_reference", [False, True])
def test_reference_fd_equals_the_core(n_other, singular_reference):
    rng = np.random.default_rng(n_other)
    d = 10
    real = rng.normal(size=(200, d))
    if singular_reference:
        real[:, 3] = 0.5  # a dead unit (EfficientNet's pre-logits have two): singular covariance
    other = rng.normal(size=(n_other, d)) * 1.3 + 0.4
    ref = Reference.of(real)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularCovarianceWarning)
        expected = fid_from_features(other, real)
    assert ref.fd(other) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert fd(other, real) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert fd(other, ref) == ref.fd(other)

"""The latency model: a residual fitted on relative error, chosen by leave-one-out error."""

import numpy as np
import pytest

from tnas_pipeline.latency.model import (
    INTERCEPT_ONLY,
    correction,
    feature_names,
    features,
    fit_on_samples,
    fit_residual,
)
from tnas_pipeline.search_space import SearchSpace

SPACE = SearchSpace(ops=("resblock3x3", "invres3x3"), widths=(8, 16), max_cells=3, channels=8)
COST = {"resblock3x3": 0.5, "invres3x3": 0.2}


def parts_of(arch):
    parts = {"fixed": 1.0}
    for cell in arch.cells:
        for layer in cell.ops:
            parts[layer.op] = parts.get(layer.op, 0.0) + COST[layer.op] * layer.width / 8
    return parts, sum(parts.values())


def samples(n, truth, noise, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        arch = SPACE.random_architecture(rng)
        parts, raw = parts_of(arch)
        out.append((arch, truth(arch, parts, raw) * float(np.exp(noise * rng.standard_normal()))))
    return out


def test_an_additive_device_gets_the_intercept_only_model():
    fit = fit_on_samples(SPACE, samples(60, lambda a, p, r: 1.05 * r, 0.01), parts_of)
    assert fit["ridge"] == INTERCEPT_ONLY and fit["networks"] == 60
    assert fit["weights"][0] == pytest.approx(np.log(1.05), abs=0.005)
    assert all(w == 0 for w in fit["weights"][1:])
    assert fit["sigma"] == pytest.approx(0.01, rel=0.3)  # the noise, as leave-one-out sees it
    assert fit["loo"]["within_10pct"] == 1.0


def test_a_planted_structural_effect_is_learned():
    """invres layers cost 30 % more than the table says: the model finds it, and predicts
    networks it has not seen far better than the sum of the entries."""
    def truth(arch, parts, raw):
        return raw + 0.3 * parts.get("invres3x3", 0.0)

    train = samples(120, truth, 0.005)
    fit = fit_on_samples(SPACE, train, parts_of)
    assert fit["ridge"] != INTERCEPT_ONLY
    assert fit["loo"]["mape"] < 0.3 * fit["raw"]["mape"]
    test = samples(40, truth, 0.0, seed=1)
    errors = []
    for arch, measured in test:
        parts, raw = parts_of(arch)
        pred = raw * correction(fit, features(SPACE, arch, parts, raw))
        errors.append(abs(pred / measured - 1))
    assert np.mean(errors) < 0.02


def test_features_and_a_missing_model():
    arch = SPACE.architecture([[("invres3x3", 8), ("invres3x3", 16)]], 3)
    parts, raw = parts_of(arch)
    x = features(SPACE, arch, parts, raw)
    names = feature_names(SPACE)
    assert len(x) == len(names)
    assert x[names.index("same-op pairs")] == 1.0
    assert x[names.index("first:invres3x3")] == 1.0 and x[names.index("last:resblock3x3")] == 0
    assert correction(None, x) == 1.0
    single = fit_residual(np.array([x]), np.array([raw]), np.array([raw * 1.1]), names)
    assert single["sigma"] == 0.0 and single["ridge"] == INTERCEPT_ONLY

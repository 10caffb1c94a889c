import pytest
import torch

from tnas_pipeline.networks import BASELINES, baseline_architecture, build_network, count_complexity


@pytest.mark.parametrize("name", BASELINES.names())
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_every_baseline_builds_and_upscales(name, scale):
    arch = baseline_architecture(name, scale)
    model = build_network(arch)
    assert type(model).__module__.startswith("tnas_pipeline")  # a plain module, no supernet
    y = model(torch.rand(1, 3, 11, 13))
    assert y.shape == (1, 3, 11 * scale, 13 * scale)
    assert BASELINES.get(name).__doc__ and "20" in BASELINES.get(name).__doc__  # cites a paper year


def test_documented_sizes():
    params = {n: count_complexity(build_network(baseline_architecture(n, 2)), 2).params
              for n in BASELINES.names()}
    assert params["fsrcnn"] == 24_683
    assert 38_000 <= params["plain_cnn"] <= 45_000
    assert params["espcn"] == 5 * 5 * 3 * 64 + 64 + 3 * 3 * 64 * 32 + 32 + 3 * 3 * 32 * 12 + 12

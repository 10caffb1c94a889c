"""Every family member builds, runs, round-trips as JSON and exports; grids are cheapest first."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tnas_pipeline.networks import FAMILIES, Architecture, build_network, count_complexity
from tnas_pipeline.networks.reparam import folded_copy

ALL = [(name, arch) for name in FAMILIES for arch in FAMILIES.get(name).grid(2)]


def mult_adds(arch: Architecture) -> int:
    # On the meta device: nothing is computed, and no global random state is used up.
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        return count_complexity(build_network(arch), arch.scale,
                                (320 * arch.scale, 180 * arch.scale)).mult_adds


def test_the_families_and_their_grid_sizes():
    assert set(FAMILIES) == {"abpn", "ecbsr", "rlfn", "plain", "fsrcnn", "espcn"}
    for name in FAMILIES:
        family = FAMILIES.get(name)
        assert family.citation and family.description
        grid = family.grid(2)
        assert len(grid) == 1 if name in ("fsrcnn", "espcn") else 4 <= len(grid) <= 28
        assert all(a.name.startswith(f"{name}-") for a in grid)
        assert len({a.name for a in grid}) == len(grid)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_grids_are_ordered_by_mult_adds(scale):
    for name in FAMILIES:
        costs = [mult_adds(a) for a in FAMILIES.get(name).grid(scale)]
        assert costs == sorted(costs), name


@pytest.mark.parametrize("name, arch", ALL, ids=[a.name for _, a in ALL])
def test_member_maps_lr_to_hr_and_round_trips(name, arch):
    torch.manual_seed(0)
    with torch.no_grad():
        y = build_network(arch).eval()(torch.rand(1, 3, 12, 10))
    assert y.shape == (1, 3, 24, 20)
    assert Architecture.from_dict(json.loads(arch.to_json())) == arch


@pytest.mark.parametrize("name", list(FAMILIES))
def test_smallest_member_at_x4(name):
    arch = FAMILIES.get(name).grid(4)[0]
    torch.manual_seed(0)
    with torch.no_grad():
        assert build_network(arch).eval()(torch.rand(1, 3, 12, 10)).shape == (1, 3, 48, 40)


EXPORTED = [(name, arch) for name in FAMILIES for arch in FAMILIES.get(name).grid(2)[:2]]


@pytest.mark.parametrize("name, arch", EXPORTED, ids=[a.name for _, a in EXPORTED])
def test_onnx_runtime_matches_the_folded_network(name, arch):
    from tnas_pipeline.runtime.onnx_graph import export_onnx_bytes
    from tnas_pipeline.runtime.ort_session import create_session

    torch.manual_seed(0)
    model = build_network(arch)
    session = create_session(export_onnx_bytes(model, precision="fp32"), threads=1)
    x = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        expect = folded_copy(model).eval()(x).numpy()
        trained_form = model.eval()(x).numpy()  # the branches as they train, unfolded
    got = session.run(None, {"input": x.numpy()})[0]
    assert got.shape == (1, 3, 48, 40)
    assert np.abs(got - expect).max() < 1e-5
    assert np.abs(got - trained_form).max() < 1e-5


@pytest.mark.parametrize("name", ["ecbsr", "rlfn"])
def test_every_parameter_of_the_new_blocks_trains(name):
    torch.manual_seed(0)
    model = build_network(FAMILIES.get(name).grid(2)[0]).train()
    model(torch.rand(2, 3, 18, 18)).abs().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())

import numpy as np
import pytest
import torch

from tests.latency.conftest import TINY_SIZE
from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.blocks import architecture_blocks, space_blocks
from tnas_pipeline.networks import baseline_architecture
from tnas_pipeline.search_space import DEFAULT_SPACE


def test_space_blocks_are_unique_and_complete():
    blocks = space_blocks(DEFAULT_SPACE, (1280, 720), "fp32")
    keys = [b.key for b in blocks]
    s = DEFAULT_SPACE
    assert len(keys) == len(set(keys)) == 1 + len(s.ops) * len(s.widths) + len(
        s.upsampler_kernels) + 1
    assert "invres3x3|in:32x360x640|out:32|w:48|relu|fp32" in keys


def test_every_block_module_runs_at_its_shape(tiny_space):
    for block in space_blocks(tiny_space, TINY_SIZE, "fp32"):
        out = block.module()(torch.zeros(block.input_shape))
        if block.kind == "layer":
            assert out.shape[1:] == (block.cout, 8, 16)
        elif block.kind == "skip":  # the nearest anchor is added before the pixel shuffle
            assert out.shape[1:] == (block.cout * 4, 8, 16)
        else:
            assert out.shape[1:] == (block.cout, 16, 32)


def test_architecture_blocks_come_from_the_space(tiny_space):
    keys = {b.key for b in space_blocks(tiny_space, TINY_SIZE, "fp16")}
    rng = np.random.default_rng(0)
    for _ in range(10):
        arch = tiny_space.random_architecture(rng)
        blocks = architecture_blocks(arch, TINY_SIZE, "fp16")
        assert {b.key for b in blocks} <= keys
        assert len(blocks) == 1 + 2 * len(arch.cells) + 2


def test_out_of_space_architectures_are_named():
    with pytest.raises(UserError, match="deconv"):
        architecture_blocks(baseline_architecture("fsrcnn", 2), TINY_SIZE, "fp32")
    with pytest.raises(UserError, match="not divisible by scale 3"):
        space_blocks(DEFAULT_SPACE.with_scale(3), (1280, 720), "fp32")

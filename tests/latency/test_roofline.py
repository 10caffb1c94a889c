import pytest

from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.blocks import Block
from tnas_pipeline.latency.roofline import estimate_block_ms, estimate_table
from tnas_pipeline.search_space import DEFAULT_SPACE


def _block(width, precision="fp16", op="resblock3x3"):
    return Block("layer", op, 32, 32, 360, 640, precision, width, "relu")


def test_estimates_order_like_the_hardware():
    assert estimate_block_ms(_block(64), "jetson-agx-orin") > estimate_block_ms(
        _block(16), "jetson-agx-orin")
    assert estimate_block_ms(_block(32, "fp32"), "jetson-agx-orin") > estimate_block_ms(
        _block(32), "jetson-agx-orin")
    assert estimate_block_ms(_block(32), "jetson-orin-nano") > estimate_block_ms(
        _block(32), "jetson-agx-orin")


def test_table_is_marked_and_unknown_devices_refused():
    t = estimate_table("jetson-orin-nano", DEFAULT_SPACE, (1280, 720), "fp16")
    assert t.data["method"] == "roofline-estimate" and t.data["device"]["peaks"]
    with pytest.raises(UserError, match="known: jetson-agx-orin"):
        estimate_table("pixel-9", DEFAULT_SPACE, (1280, 720), "fp16")

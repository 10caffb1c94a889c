"""ONNX loaders: names, dynamic and static shapes, opset, metadata, FP16 I/O, folding."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from tests.export.conftest import small_arch
from tnas_pipeline.deploy.onnx_export import (
    OnnxFromTorch,
    opset_of,
    read_metadata,
    simplify_onnx,
    stamp,
)
from tnas_pipeline.errors import UserError
from tnas_pipeline.networks import build_network
from tnas_pipeline.networks.reparam import reparameterize_model
from tnas_pipeline.runtime.onnx_graph import ONNX_OPSET
from tnas_pipeline.runtime.runners import OnnxrtRunner, TorchRunner


def dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def elem_type(value_info) -> int:
    return value_info.type.tensor_type.elem_type


@pytest.fixture
def net() -> nn.Module:
    torch.manual_seed(0)
    return build_network(small_arch("bicubic")).eval()


def test_dynamic_export_is_named_checked_and_takes_any_size(net):
    model = simplify_onnx(OnnxFromTorch(net)())
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["output"]
    assert dims(model.graph.input[0]) == ["batch", 3, "height", "width"]
    assert opset_of(model) == ONNX_OPSET == 17
    onnx.checker.check_model(model, full_check=True)
    with OnnxrtRunner(model.SerializeToString()) as ort, TorchRunner(net) as ref:
        for h, w in ((7, 9), (33, 20)):
            x = np.random.default_rng(h).random((1, 3, h, w), np.float32)
            y = ort.infer({"input": x})["output"]
            assert y.shape == (1, 3, 2 * h, 2 * w)
            np.testing.assert_allclose(y, ref.infer({"input": x})["output"], atol=1e-5)


def test_static_export_has_fixed_shape(net):
    model = simplify_onnx(OnnxFromTorch(net, input_hw=(36, 64))())
    assert dims(model.graph.input[0]) == [1, 3, 36, 64]
    assert dims(model.graph.output[0]) == [1, 3, 72, 128]


def test_fp16_export_keeps_fp32_input_and_output(net):
    model = simplify_onnx(OnnxFromTorch(net, precision="fp16")())
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    assert elem_type(model.graph.input[0]) == f32 and elem_type(model.graph.output[0]) == f32
    assert {t.data_type for t in model.graph.initializer if t.dims} == {f16}
    x = np.random.default_rng(0).random((1, 3, 20, 20), np.float32)
    with OnnxrtRunner(model.SerializeToString()) as ort, TorchRunner(net) as ref:
        y = ort.infer({"input": x})["output"]
        assert y.dtype == np.float32
        # FP16 weights and activations: close, not equal.
        diff = np.abs(y - ref.infer({"input": x})["output"]).max()
        assert 0 < diff < 1e-2


def test_export_leaves_the_callers_module_alone(net):
    before = {k: v.clone() for k, v in net.state_dict().items()}
    OnnxFromTorch(net, precision="fp16")()
    assert all(v.dtype == torch.float32 and torch.equal(v, before[k])
               for k, v in net.state_dict().items())


def test_metadata_is_stamped_and_read_back(net):
    model = stamp(OnnxFromTorch(net)(), {"scale": "2", "tnas.weights_sha256": "ab"})
    model = stamp(model, {"scale": "3"})  # restamping replaces, never duplicates
    meta = read_metadata(onnx.load_from_string(model.SerializeToString()))
    assert meta == {"scale": "3", "tnas.weights_sha256": "ab"}
    assert model.producer_name == "tnas-pipeline"


class TwoBranches(nn.Module):
    """3×3 and 1×1 convolutions in parallel, foldable into one 3×3 (RepVGG-style)."""

    def __init__(self) -> None:
        super().__init__()
        self.k3, self.k1 = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1)
        self.folded: nn.Conv2d | None = None

    def forward(self, x):
        return self.folded(x) if self.folded is not None else self.k3(x) + self.k1(x)

    def reparameterize(self):
        conv = nn.Conv2d(4, 4, 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(self.k3.weight + nn.functional.pad(self.k1.weight, [1, 1, 1, 1]))
            conv.bias.copy_(self.k3.bias + self.k1.bias)
        self.folded = conv
        del self.k3, self.k1


def test_reparameterisable_branches_are_folded_before_export():
    torch.manual_seed(0)
    net = nn.Sequential(TwoBranches(), nn.ReLU(), TwoBranches()).eval()
    x = torch.rand(1, 4, 10, 10)
    with torch.no_grad():
        expected = net(x)
    model = OnnxFromTorch(net, colors=4)()
    assert sum(n.op_type == "Conv" for n in model.graph.node) == 2  # one conv per block
    with OnnxrtRunner(model.SerializeToString()) as ort:
        np.testing.assert_allclose(ort.infer({"input": x.numpy()})["output"], expected.numpy(),
                                   atol=1e-5)
    # The caller's network still has its branches.
    assert all(hasattr(m, "k3") for m in net if isinstance(m, TwoBranches))
    folded = reparameterize_model(net)
    assert all(m.folded is not None for m in folded if isinstance(m, TwoBranches))


def test_unknown_precision_is_a_user_error(net):
    with pytest.raises(UserError, match="fp32 or fp16"):
        OnnxFromTorch(net, precision="int8")


def test_exported_files_carry_the_run_and_parity(exported):
    manifest = json.loads((exported / "export" / "export-fp32.json").read_text())
    files = {a["file"]: a for a in manifest["artifacts"]}
    assert set(files) == {"model-fp32.onnx", "model-fp32-1280x720.onnx"}
    assert files["model-fp32-1280x720.onnx"]["input_shape"] == [1, 3, 360, 640]
    meta = read_metadata(onnx.load(str(exported / "export" / "model-fp32.onnx")))
    assert (meta["scale"], meta["precision"], meta["tnas.variant"]) == ("2", "fp32", "dynamic")
    assert len(meta["tnas.weights_sha256"]) == 64 and len(meta["tnas.arch_sha256"]) == 64

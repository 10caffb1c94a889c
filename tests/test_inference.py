import numpy as np
import pytest
import torch

from tnas_pipeline.errors import UserError
from tnas_pipeline.inference import BicubicUpscaler, OnnxUpscaler, TorchUpscaler, load_upscaler
from tnas_pipeline.networks import build_network


def export_onnx(model: torch.nn.Module, path, scale: int) -> None:
    """Test helper: a dynamic-H/W ONNX file with the scale in its metadata."""
    import onnx

    torch.onnx.export(model.eval(), (torch.rand(1, 3, 16, 16),), str(path), dynamo=False,
                      input_names=["lr"], output_names=["sr"], opset_version=17,
                      dynamic_axes={"lr": {2: "h", 3: "w"}, "sr": {2: "H", 3: "W"}})
    m = onnx.load(str(path))
    m.metadata_props.add(key="scale", value=str(scale))
    onnx.save(m, str(path))


def test_onnx_runtime_matches_pytorch(tmp_path, tiny_arch):
    torch.manual_seed(0)
    model = build_network(tiny_arch)
    export_onnx(model, tmp_path / "m.onnx", 2)
    lr = np.random.default_rng(0).integers(0, 256, (21, 34, 3)).astype(np.uint8)
    ort_up = OnnxUpscaler(tmp_path / "m.onnx")
    assert ort_up.scale == 2
    np.testing.assert_allclose(ort_up.upscale(lr), TorchUpscaler(model, 2).upscale(lr), atol=1e-3)


def test_gray_input_gives_gray_output(tiny_arch):
    up = TorchUpscaler(build_network(tiny_arch), 2)
    assert up.upscale(np.zeros((9, 7), np.uint8)).shape == (18, 14)
    assert BicubicUpscaler(3).upscale(np.zeros((9, 7), np.uint8)).shape == (27, 21)


def test_load_upscaler_errors(tmp_path):
    with pytest.raises(UserError, match="either a model"):
        load_upscaler(tmp_path, bicubic=True)
    with pytest.raises(UserError, match=r"not a run directory or an \.onnx file"):
        load_upscaler(tmp_path / "nothing")
    with pytest.raises(UserError, match=r"missing arch\.json, weights\.safetensors"):
        load_upscaler(tmp_path)
    (tmp_path / "broken.onnx").write_bytes(b"garbage")
    with pytest.raises(UserError, match="ONNX Runtime cannot load"):
        load_upscaler(tmp_path / "broken.onnx")


def test_overlap_defaults_to_the_receptive_field(tmp_path, tiny_arch):
    """Issue 18: the overlap follows the network (run: its architecture; ONNX: its graph), and
    one below it, which would leave seams, is refused."""
    from tnas_pipeline.run_dir import RunDir

    model = build_network(tiny_arch)
    (tmp_path / "run").mkdir()
    tiny_arch.save(tmp_path / "run" / "arch.json")
    RunDir(tmp_path / "run").save_weights(model)
    export_onnx(model, tmp_path / "m.onnx", 2)
    assert load_upscaler(tmp_path / "run").overlap == 4
    assert load_upscaler(tmp_path / "run", overlap=9).overlap == 9
    assert load_upscaler(tmp_path / "m.onnx").overlap == 6  # graph bound: trunk + bicubic skip
    with pytest.raises(UserError, match="receptive field of 4 LR pixels"):
        load_upscaler(tmp_path / "run", overlap=3)
    with pytest.raises(UserError, match="--overlap 6 or more"):
        load_upscaler(tmp_path / "m.onnx", overlap=5)
    with pytest.raises(UserError, match="--overlap -1 is negative"):
        load_upscaler(None, bicubic=True, overlap=-1)

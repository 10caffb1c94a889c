"""Runners share one interface; the comparator's figures are right on known arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tnas_pipeline.deploy.comparator import Comparator, output_diff
from tnas_pipeline.deploy.onnx_export import OnnxFromTorch
from tnas_pipeline.errors import UserError
from tnas_pipeline.runtime.runners import OnnxrtRunner, TorchRunner


def test_output_diff_figures():
    ref = [np.zeros((1, 1, 2, 2), np.float32)]
    d = output_diff([np.full((1, 1, 2, 2), 0.1, np.float32)], ref)
    assert d.max_abs_diff == pytest.approx(0.1) and d.mean_abs_diff == pytest.approx(0.1)
    assert d.psnr_db == pytest.approx(20.0, abs=1e-4)  # mse 0.01 at peak 1
    same = output_diff(ref, ref)
    assert same.max_abs_diff == 0 and math.isinf(same.psnr_db) and same.to_dict()["psnr_db"] is None
    bad = np.zeros((1, 1, 2, 2), np.float32)
    bad[0, 0, 0, 0], bad[0, 0, 1, 1] = np.nan, np.inf
    d = output_diff([bad], ref)
    assert d.nonfinite == 2 and math.isinf(d.max_abs_diff) and d.psnr_db == -math.inf
    with pytest.raises(ValueError, match="shape"):
        output_diff([np.zeros((1, 1, 3, 3))], ref)


def test_runners_are_context_managers_with_one_interface():
    net = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.PixelShuffle(2)).eval()
    runners = [TorchRunner(net, name="torch"),
               OnnxrtRunner(OnnxFromTorch(net)().SerializeToString(), name="ort")]
    for r in runners:
        assert not r.is_active
        with pytest.raises(RuntimeError, match="not active"):
            r.infer({"input": np.zeros((1, 3, 4, 4), np.float32)})
    feeds = [{"input": np.random.default_rng(i).random((1, 3, 5, 6), np.float32)}
             for i in range(3)]
    results = Comparator.run(runners, feeds)
    assert not any(r.is_active for r in runners)  # entered and left by the comparator
    assert [o["output"].shape for o in results["ort"]] == [(1, 3, 10, 12)] * 3
    diff = Comparator.compare(results, "torch")["ort"]["output"]
    assert diff.max_abs_diff < 1e-5 and diff.nonfinite == 0
    with pytest.raises(ValueError, match="inputs are"), runners[1]:
        runners[1].infer({"x": feeds[0]["input"]})
    with pytest.raises(ValueError, match="unique"):
        Comparator.run([runners[0], runners[0]], feeds)


def test_onnxrt_runner_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="cannot load"), OnnxrtRunner(b"garbage"):
        pass
    with pytest.raises(UserError, match="onnxruntime-gpu"), OnnxrtRunner(
            b"", providers=["NoSuchExecutionProvider"]):
        pass


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_pytorch_cuda_against_onnx_runtime():
    """On a GPU without TensorRT the comparator still covers the GPU path: PyTorch-CUDA
    against ONNX Runtime on the CPU."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 12, 3, padding=1),
                        nn.PixelShuffle(2)).eval()
    feeds = [{"input": np.random.default_rng(0).random((1, 3, 64, 64), np.float32)}]
    results = Comparator.run([TorchRunner(net, "cuda", name="cuda"),
                              OnnxrtRunner(OnnxFromTorch(net)().SerializeToString(), name="ort")],
                             feeds)
    diff = Comparator.compare(results, "ort")["cuda"]["output"]
    assert diff.nonfinite == 0 and diff.max_abs_diff < 1e-3  # TF32 convolutions may be on

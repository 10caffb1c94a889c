"""``export --format trt`` and ``validate`` of an engine, end to end, with TensorRT stood in for.

TensorRT cannot be installed here, so the parts that call it are replaced: the "engine" is the
ONNX model itself, run by ONNX Runtime behind :class:`TrtRunner`'s interface. Everything else is
the real code: the order of steps, the two profiles, parity and NaN checks, the manifests, the
run hashes, the GPU and version check, and validation's choice of the dynamic engine for images
and the fixed-shape one for latency. Real engines are built in ``test_trt.py`` where TensorRT is.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from click.testing import CliRunner

import tnas_pipeline.deploy.engine_export as engine_export
import tnas_pipeline.runtime.trt.runner as trt_runner
from tests.cli.test_cli import assert_user_error
from tests.export.conftest import make_run
from tnas_pipeline.cli.main import cli
from tnas_pipeline.deploy.engine_export import TrtContext
from tnas_pipeline.runtime.runners import OnnxrtRunner

GPU = {"gpu": "Fake GPU", "compute_capability": "8.7", "cuda_binding": "fake"}


class OnnxAsEngine(OnnxrtRunner):
    """TrtRunner's interface over ONNX Runtime: the "plan" is an ONNX model."""

    def __init__(self, engine_bytes, input_shapes=None, device=0, name="tensorrt"):
        super().__init__(engine_bytes, name=name)

    def time_ms(self, warmup, repeats, min_seconds=0.0):
        shape = [d if isinstance(d, int) and d > 0 else 1
                 for d in self.session.get_inputs()[0].shape]
        x = {"input": np.random.default_rng(0).random(shape, np.float32)}
        samples = []
        for _ in range(warmup + repeats):
            t0 = time.perf_counter()
            self.infer(x)
            samples.append((time.perf_counter() - t0) * 1e3)
        return samples[warmup:]


@pytest.fixture
def fake_trt(monkeypatch):
    built = []

    def build_engine(onnx_bytes, input_shapes, workspace_bytes, timing_cache_path):
        built.append(input_shapes)
        return onnx_bytes

    def engine_manifest(onnx_bytes, engine_bytes, input_shapes, precision):
        return {"tensorrt": "10.3.0", **GPU, "precision": precision, "strongly_typed": True,
                "input_shapes": {n: {"min": list(lo), "opt": list(o), "max": list(hi)}
                                 for n, (lo, o, hi) in input_shapes.items()},
                "onnx_sha256": "x", "engine_sha256": "y", "engine_bytes": len(engine_bytes)}

    monkeypatch.setattr(engine_export, "trt_context_here", lambda: TrtContext("10.3.0", GPU))
    monkeypatch.setattr(engine_export, "build_engine", build_engine)
    monkeypatch.setattr(engine_export, "engine_manifest", engine_manifest)
    monkeypatch.setattr(engine_export, "TrtRunner", OnnxAsEngine)
    monkeypatch.setattr(trt_runner, "TrtRunner", OnnxAsEngine)
    return built


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_trt_export_writes_both_engines_with_manifests(tmp_path, fake_trt, image_folder):
    run = make_run(tmp_path / "run")
    res = invoke("export", "--run", run, "--format", "trt", "--precision", "fp16",
                 "--output-size", "320x240", "--parity-data", image_folder,
                 "--timing-cache", tmp_path / "cache" / "t.cache", "--json")
    assert res.exit_code == 0, res.output
    static, dynamic = fake_trt
    assert static["input"] == ((1, 3, 120, 160),) * 3  # min = opt = max for latency
    lo, opt, hi = dynamic["input"]
    assert lo[2:] == (8, 8) and opt[2:] == (256, 256) and hi[2:] == (288, 288)
    files = {a["file"]: a for a in json.loads(res.stdout)["artifacts"]}
    assert set(files) == {"model-fp16.onnx", "model-fp16-320x240.onnx",
                          "model-fp16-320x240.engine", "model-fp16-dynamic.engine"}
    manifest = json.loads((run / "export" / "model-fp16-dynamic.engine.json").read_text())
    assert manifest["variant"] == "dynamic" and manifest["gpu"] == "Fake GPU"
    assert len(manifest["tnas.weights_sha256"]) == 64
    parity = json.loads((run / "export" / "export-fp16.json").read_text())["parity"]
    assert parity["tensorrt"]["sets"][image_folder.name]["tensorrt"]["nonfinite_images"] == 0

    # validate on the "GPU": the dynamic engine for images, the fixed-shape one for latency.
    res = invoke("validate", "--run", run, "--device", "cuda", "--data", image_folder,
                 "--rounds", 1, "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert r["artifact"].endswith("model-fp16-dynamic.engine") and r["runtime"] == "tensorrt"
    # Timed at the fixed engine's shape; the table predicts 1280x720 only, so no prediction.
    assert r["latency_ms"]["input_shape"] == [1, 3, 120, 160] and r["latency_ms"]["median"] > 0
    assert r["predicted_ms"] is None
    assert all(c["ok"] for c in r["checks"] if c["name"] != "prediction")


def test_engine_for_another_gpu_is_refused(tmp_path, fake_trt, image_folder, monkeypatch):
    run = make_run(tmp_path / "run")
    res = invoke("export", "--run", run, "--format", "trt", "--parity-data", image_folder)
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(engine_export, "trt_context_here",
                        lambda: TrtContext("10.3.0", {**GPU, "gpu": "NVIDIA H100",
                                                      "compute_capability": "9.0"}))
    assert_user_error(invoke("validate", "--run", run, "--device", "cuda"),
                      "built for Fake GPU", "NVIDIA H100", "rebuild it here")

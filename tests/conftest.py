"""Shared fixtures: small synthetic image folders and a tiny architecture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def stop_search_at_step(monkeypatch, step: int = 3):
    """Make the search stop (as after Ctrl-C) in its ``step``-th weight step; returns the
    original step, to put back."""
    from tnas_pipeline.nas import searcher as S

    calls = {"n": 0}
    original = S.Searcher._weight_step

    def interrupt(self):
        calls["n"] += 1
        if calls["n"] == step:
            self.stop_requested = True
        return original(self)

    monkeypatch.setattr(S.Searcher, "_weight_step", interrupt)
    return original


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A natural-ish uint8 RGB image: upsampled noise, so SR has structure to learn."""
    small = rng.integers(0, 256, size=(max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC))


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder of four 64×48 RGB PNGs."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(smooth_image(rng, 48, 64)).save(folder / f"im{i}.png")
    return folder


@pytest.fixture
def tiny_arch() -> Architecture:
    """A two-layer ×2 network that trains in a blink."""
    return Architecture(name="tiny", scale=2, head=Layer("conv3x3", 8, "relu"),
                        cells=(Cell((Layer("resblock3x3", 8, "relu", width=8),)),),
                        upsampler=Upsampler("pixel_shuffle", 3), global_skip="bicubic")


def needs_shared_data():
    return pytest.mark.skipif(not SHARED_DATA.is_dir(),
                              reason=f"{SHARED_DATA} is absent (optional, larger data checks)")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Tests never read or write the user's cache of latency tables."""
    from tnas_pipeline.latency.bringup import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.getbasetemp() / "user-cache"))


FOREIGN_FINGERPRINT = {"vendor": "TestCPU", "family": "1", "model": "1", "stepping": "1",
                       "flags": ["avx"]}


@pytest.fixture(scope="session")
def tiny_shipped(tmp_path_factory) -> Path:
    """A folder of 'shipped' ×2 and ×4 CPU tables of the default space, measured here at a tiny
    output size (128×72) with a short protocol, then marked as measured on another CPU: with
    ``TNAS_PIPELINE_SHIPPED_PROFILES`` pointing at it, this machine is a CPU the tool has
    never seen."""
    import json

    from tnas_pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend
    from tnas_pipeline.latency.interleaved import RatioProtocol
    from tnas_pipeline.latency.profiler import profile
    from tnas_pipeline.search_space import DEFAULT_SPACE

    folder = tmp_path_factory.mktemp("shipped")
    quick = RatioProtocol(warmup=1, min_pairs=3, max_pairs=4, runs=3)
    for scale in (2, 4):
        path = folder / f"cpu-2core-ort-fp32-x{scale}-1280x720.json"
        profile(OnnxRuntimeBackend(threads=1), "cpu", DEFAULT_SPACE.with_scale(scale),
                (128, 72), path, protocol=quick, networks=6, progress=False)
        data = json.loads(path.read_text())
        data["device"]["cpu_fingerprint"] = FOREIGN_FINGERPRINT
        path.write_text(json.dumps(data))
    return folder

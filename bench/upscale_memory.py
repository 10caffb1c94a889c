"""Benchmark: peak memory of ``tnas-pipeline upscale`` on one large image (issue 18).

Makes a synthetic ``--size``² RGB photo (smooth noise: random pixels upsampled bicubically, so
PNG compresses it as it would a photo) in a temporary folder, and a run directory holding a
network of the main job's kind: the default search space (``tnas_pipeline.search_space``), with
cells chosen so that the shipped 2-core table predicts about 250 ms at 1280×720, the default
budget of ``tnas-pipeline run`` (whose own searched network is not kept in the repository).
Its weights are freshly initialised: memory and time do not depend on their values. Then runs

    /usr/bin/time -v .venv/bin/tnas-pipeline upscale IN.png -o OUT.png --model RUN --json

in a subprocess, reads "Maximum resident set size" and the wall time, checks the output's size,
and writes ``bench/results/upscale_memory.{json,md}``. Without ``/usr/bin/time`` the peak is
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of the child instead (and the report says so).

    python bench/upscale_memory.py                  # 8000x8000, a few minutes on 2 cores
    python bench/upscale_memory.py --size 2000      # a quick look

Target: under 2 GB peak RSS at 8000² (the output alone is 768 MB as uint8).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image

from bench.common import REPO, machine, markdown_table
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic
from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler
from tnas_pipeline.receptive_field import arch_receptive_field

TARGET_MB = 2000
TIME = Path("/usr/bin/time")
CELLS = [[("invres5x5", 48), ("resblock3x3", 32)], [("invres3x3", 32), ("conv3x3_1x1", 64)],
         [("invres5x5", 48), ("invres3x3", 16)]]


def main_job_like_arch() -> Architecture:
    """Three cells of the default space's ops and widths, trunk 32, anchor skip: 258 ms by the
    shipped cpu-2core x2 table, next to the 258.9 ms of the README's main-job network."""
    return Architecture(
        name="main-job-like-250ms", scale=2, head=Layer("conv3x3", 32, "none"),
        cells=tuple(Cell(tuple(Layer(op, 32, "relu", width=w) for op, w in c)) for c in CELLS),
        upsampler=Upsampler("pixel_shuffle", 3), global_skip="nearest")


def predicted_ms(arch: Architecture) -> float | None:
    from tnas_pipeline.latency.lut import LatencyTable

    table = REPO / "hardware_profiles" / "cpu-2core-ort-fp32-x2-1280x720.json"
    return LatencyTable.load(table).predict_ms(arch) if table.is_file() else None


def make_run(path: Path, arch: Architecture) -> int:
    """A run directory with fresh weights; returns the parameter count."""
    import torch

    from tnas_pipeline.networks import build_network
    from tnas_pipeline.run_dir import RunDir

    torch.manual_seed(0)
    model = build_network(arch)
    path.mkdir(parents=True)
    arch.save(path / "arch.json")
    RunDir(path).save_weights(model)
    return sum(p.numel() for p in model.parameters())


def make_image(path: Path, size: int) -> None:
    small = np.random.default_rng(0).integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    with Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC) as im:
        im.save(path, compress_level=1)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR (Pillow's own open refuses 256 Mpx as a bomb)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        sys.exit(f"{path}: not a PNG")
    return struct.unpack(">II", head[16:24])


def run_measured(cmd: list[str]) -> tuple[int, float, float, str, str]:
    """(exit code, peak RSS MB, wall seconds, how the peak was measured, stderr tail)."""
    use_time = TIME.is_file()
    full = [str(TIME), "-v", *cmd] if use_time else cmd
    start = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if use_time:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        peak_mb = int(m.group(1)) / 1024 if m else float("nan")
        how = "/usr/bin/time -v, Maximum resident set size"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        how = "resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (/usr/bin/time is missing)"
    return proc.returncode, peak_mb, wall, how, proc.stderr[-2000:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=8000, help="input side in pixels")
    ap.add_argument("--tile", type=int, default=256, help="upscale --tile")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="upscale-memory-"))
    try:
        arch = main_job_like_arch()
        params = make_run(work / "run", arch)
        make_image(work / "in.png", args.size)
        cmd = [str(REPO / ".venv" / "bin" / "tnas-pipeline"), "upscale", str(work / "in.png"),
               "-o", str(work / "out.png"), "--model", str(work / "run"),
               "--tile", str(args.tile), "--json"]
        code, peak_mb, wall, how, err = run_measured(cmd)
        print(f"exit {code}, peak {peak_mb:.0f} MB, {wall:.0f} s", flush=True)
        if code != 0:
            sys.exit(f"upscale failed ({code}):\n{err}")
        out_size = png_size(work / "out.png")
        out_bytes = (work / "out.png").stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)

    side = args.size
    result = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "command": "/usr/bin/time -v .venv/bin/tnas-pipeline upscale IN.png -o OUT.png "
                   f"--model RUN --tile {args.tile} --json",
        "peak_measured_by": how,
        "input": {"width": side, "height": side, "mode": "RGB", "kind": "smooth noise PNG"},
        "output": {"width": out_size[0], "height": out_size[1], "png_bytes": out_bytes},
        "network": {"name": arch.name, "arch": arch.to_dict(), "params": params,
                    "receptive_field_lr_px": arch_receptive_field(arch),
                    "predicted_ms_cpu_2core_1280x720": predicted_ms(arch),
                    "weights": "freshly initialised (memory and time do not depend on them)"},
        "peak_rss_mb": round(peak_mb, 1),
        "wall_seconds": round(wall, 1),
        "target_mb": TARGET_MB,
        "under_target": peak_mb < TARGET_MB,
        "uint8_output_mb": round(out_size[0] * out_size[1] * 3 / 2**20, 1),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.results / "upscale_memory.json", result)
    rows = [["input", f"{side}x{side} RGB PNG (synthetic smooth noise)"],
            ["output", f"{out_size[0]}x{out_size[1]} PNG, {out_bytes / 2**20:.0f} MiB on disk; "
                       f"{result['uint8_output_mb']:.0f} MiB as uint8"],
            ["network", f"{arch.name}: default search space, {params:,} parameters, receptive "
                        f"field {result['network']['receptive_field_lr_px']} LR px, "
                        f"{result['network']['predicted_ms_cpu_2core_1280x720']:.0f} ms "
                        "predicted (cpu-2core table)"],
            ["peak RSS", f"**{peak_mb:.0f} MB** (target {TARGET_MB} MB)"],
            ["wall time", f"{wall:.0f} s"]]
    md = (f"Peak memory of `upscale` on one large image; {result['machine']}; "
          f"{result['date']}.\nCommand: `python bench/upscale_memory.py --size {side}`, which "
          f"runs `{result['command']}`; peak by {how}.\n\n"
          + markdown_table(["", "result"], rows))
    write_text_atomic(args.results / "upscale_memory.md", md)
    print(md)
    print(json.dumps({k: result[k] for k in ("peak_rss_mb", "wall_seconds")}))


if __name__ == "__main__":
    main()

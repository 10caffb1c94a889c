"""``tnas-pipeline profile``: measure, estimate, check or inspect a latency table."""

from __future__ import annotations

import re
from pathlib import Path

import click

from pipeline.cli.common import echo_json, json_option
from pipeline.errors import UserError

_RUNTIME_KEYS = {"onnxruntime": "ort", "torch": "torch", "tensorrt": "trt"}


def parse_output_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → ``(1280, 720)``; anything else is a :class:`UserError`."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserError(f"--output-size {text!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    return int(m.group(1)), int(m.group(2))


def _summary(table) -> dict:
    lo, hi = table.reachable_range()
    return {"lut": str(table.path), "description": table.describe(),
            "method": table.data["method"], "search_space": table.data["search_space"]["hash"],
            "entries": len(table.data["entries"]), "calibration": table.calibration,
            "reachable_ms": {"min": lo, "max": hi}}


def _print_summary(s: dict) -> None:
    click.echo(f"{s['lut']}: {s['description']}")
    click.echo(f"  {s['entries']} blocks, search space {s['search_space']}")
    cal = s["calibration"]
    if cal:
        f = cal["in_sample"]
        click.echo(f"  calibration: measured = {cal['a']:.4f} x sum(LUT) + {cal['b']:.3f} ms over "
                   f"{cal['networks']} networks; MAPE {f['mape']:.1%}, within 10% "
                   f"{f['within_10pct']:.0%}, Kendall tau {f['kendall_tau']:.3f}")
    click.echo(f"  reachable latency: {s['reachable_ms']['min']:.2f} .. "
               f"{s['reachable_ms']['max']:.2f} ms")


@click.command()
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or jetson.")
@click.option("--runtime", type=click.Choice(["ort", "torch", "trt"]),
              help="Latency backend [default: ort on cpu; trt on jetson; trt or else torch on "
                   "cuda].")
@click.option("--scale", default="2", show_default=True, type=click.Choice(["2", "3", "4"]))
@click.option("--space", "space_name", default="default", show_default=True,
              type=click.Choice(["default", "mixed", "pool"]),
              help="Search space to profile: default (single-path trilevel), mixed (the "
                   "folded 3x3 / 1x1 layers of mixed-path search, --relaxation "
                   "sparse-group-lasso) or pool (the 8-op pool of --evolve-rounds).")
@click.option("--output-size", default="1280x720", show_default=True,
              help="Deployment output resolution WIDTHxHEIGHT.")
@click.option("--precision", default="fp32", show_default=True,
              type=click.Choice(["fp32", "fp16"]))
@click.option("-o", "--output", type=click.Path(path_type=str),
              help="LUT file [default: hardware_profiles/<device>-<runtime>-<precision>-x<scale>"
                   "-<size>[-mixed].json].")
@click.option("--resume", is_flag=True, help="Continue an interrupted profile in -o.")
@click.option("--networks", default=30, show_default=True,
              help="Random whole networks to measure for calibration (or for --check).")
@click.option("--warmup", default=10, show_default=True, help="Untimed runs per block.")
@click.option("--repeats", default=30, show_default=True, help="Timed runs per block.")
@click.option("--threads", type=int, help="CPU threads [default: all cores].")
@click.option("--seed", default=0, show_default=True, help="Seed of the calibration networks.")
@click.option("--check", "check_file", type=click.Path(path_type=str),
              help="Measure fresh random networks against this LUT and report its fidelity.")
@click.option("--estimate", type=str,
              help="Write a roofline estimate for a device not at hand (jetson-orin-nano, "
                   "jetson-orin-nx, jetson-agx-orin).")
@click.option("--info", "info_file", type=click.Path(path_type=str),
              help="Describe a LUT: provenance, calibration, reachable latency range.")
@click.option("--no-progress", is_flag=True)
@json_option
def profile(device, runtime, scale, space_name, output_size, precision, output, resume, networks,
            warmup, repeats, threads, seed, check_file, estimate, info_file, no_progress,
            as_json) -> None:
    """Measure what a device costs: a latency lookup table of every block of the search space.

    Blocks are measured in isolation at the deployment resolution with the deployment runtime,
    saving after each entry (--resume continues); then random whole networks are measured to fit
    measured = a x sum(LUT) + b and report the table's fidelity.

    \b
    Examples:
      tnas-pipeline profile --device cpu -o hardware_profiles/cpu.json
      tnas-pipeline profile --device cpu --resume -o hardware_profiles/cpu.json
      tnas-pipeline profile --device cpu --space mixed --threads 1 -o cpu-mixed.json
      tnas-pipeline profile --check hardware_profiles/cpu.json --networks 30 --json
      tnas-pipeline profile --device jetson --precision fp16      # on the Jetson, TensorRT
      tnas-pipeline profile --estimate jetson-orin-nano --precision fp16
      tnas-pipeline profile --info hardware_profiles/jetson-orin-nano-fp16.json
    """
    from pipeline.latency.backends import MeasureProtocol, get_backend
    from pipeline.latency.devices import default_runtime
    from pipeline.latency.lut import LatencyTable
    from pipeline.latency.profiler import check, require_measured
    from pipeline.latency.profiler import profile as run_profile
    from pipeline.latency.roofline import estimate_table
    from pipeline.search_space import SPACES

    size = parse_output_size(output_size)
    space = SPACES[space_name].with_scale(int(scale))
    suffix = "" if space_name == "default" else f"-{space_name}"
    progress = not (no_progress or as_json)

    if info_file:
        table = LatencyTable.load(info_file)
        summary = _summary(table)
        echo_json(summary) if as_json else _print_summary(summary)
        return

    if check_file:
        table = LatencyTable.load(check_file)
        require_measured(table)  # before creating a backend that the estimate's device needs
        rt = table.data.get("runtime", {})
        backend = get_backend(_RUNTIME_KEYS.get(rt.get("runtime"), "ort"),
                              device=table.data["device"]["kind"], precision=table.precision,
                              threads=rt.get("threads"))
        result = check(table, backend, networks=networks, progress=progress)
        if as_json:
            echo_json(result)
        else:
            click.echo(f"{check_file}: {result['networks']} fresh networks, MAPE "
                       f"{result['mape']:.1%}, within 10% {result['within_10pct']:.0%}, "
                       f"Kendall tau {result['kendall_tau']:.3f}")
        return

    if estimate:
        table = estimate_table(estimate, space, size, precision)
        out = Path(output or f"hardware_profiles/{estimate}-{precision}-x{scale}-"
                             f"{size[0]}x{size[1]}{suffix}.json")
        if out.exists() and not resume:
            raise UserError(f"{out} exists; choose another -o")
        table.save(out)
        click.echo(table.estimate_notice(), err=True)
        summary = _summary(table)
        echo_json(summary) if as_json else _print_summary(summary)
        return

    chosen = default_runtime(device)  # also refuses an unknown device
    if runtime is None and device == "cuda" and chosen == "torch":
        click.echo("note: TensorRT is not installed; profiling PyTorch-CUDA as the fallback "
                   "(recorded in the table)", err=True)
    runtime = runtime or chosen
    if runtime == "trt" and device == "cpu":
        raise UserError("TensorRT needs an NVIDIA GPU; profile --device cuda or --device jetson")
    backend = get_backend(runtime, device="cpu" if device == "cpu" else "cuda",
                          precision=precision, threads=threads,
                          cache_dir=str(Path(output).parent) if output else "hardware_profiles")
    out = Path(output or f"hardware_profiles/{device}-{runtime}-{precision}-x{scale}-"
                         f"{size[0]}x{size[1]}{suffix}.json")
    table = run_profile(backend, device, space, size, out, resume=resume,
                        protocol=MeasureProtocol(warmup=warmup, repeats=repeats),
                        networks=networks, seed=seed, progress=progress)
    summary = _summary(table)
    echo_json(summary) if as_json else _print_summary(summary)

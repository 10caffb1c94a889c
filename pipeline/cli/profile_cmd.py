"""``tnas-pipeline profile``: measure, estimate, check or inspect a latency table."""

from __future__ import annotations

import re
from pathlib import Path

import click

from tnas_pipeline.cli.common import COUNT, SEED, OutputPath, echo_json, json_option
from tnas_pipeline.cli.options import (
    no_progress_option,
    resume_option,
    scale_option,
    threads_option,
)
from tnas_pipeline.errors import UserError
from tnas_pipeline.schema import MAX_OUTPUT_PIXELS, MAX_OUTPUT_SIDE

_RUNTIME_KEYS = {"onnxruntime": "ort", "torch": "torch", "tensorrt": "trt"}
#: Networks a --check measures at least: Kendall's tau ranks pairs, so it needs two.
MIN_CHECK_NETWORKS = 2


def parse_output_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → ``(1280, 720)``, at most 8K (:data:`tnas_pipeline.schema.MAX_OUTPUT_SIDE`
    a side, :data:`~tnas_pipeline.schema.MAX_OUTPUT_PIXELS` in all); anything else is a
    :class:`UserError`."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserError(f"--output-size {text!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    w, h = int(m.group(1)), int(m.group(2))
    if max(w, h) > MAX_OUTPUT_SIDE or w * h > MAX_OUTPUT_PIXELS:
        raise UserError(f"--output-size {w}x{h} is larger than the limit of {MAX_OUTPUT_SIDE} "
                        f"pixels a side and {MAX_OUTPUT_PIXELS:,} in all (8K, 7680x4320)")
    return w, h


def _summary(table) -> dict:
    lo, hi = table.reachable_range()
    model = table.model or {}
    return {"lut": str(table.path), "description": table.describe(),
            "method": table.data["method"], "search_space": table.data["search_space"]["hash"],
            "entries": len(table.data["entries"]),
            "reference": {"network": (table.reference_arch.name if table.reference_arch
                                      else None), "ms": table.profiled_reference_ms},
            "model": {k: model.get(k) for k in ("ridge", "sigma", "networks", "loo", "raw")}
            if model else None,
            "reachable_ms": {"min": lo, "max": hi},
            "bring_up": table.data.get("bring_up")}


def _print_summary(s: dict) -> None:
    click.echo(f"{s['lut']}: {s['description']}")
    click.echo(f"  {s['entries']} blocks, search space {s['search_space']}")
    ref = s["reference"]
    if ref["network"]:
        click.echo(f"  entries are ratios to the reference network ({ref['network']}: head -> "
                   f"upsampler -> skip), which took {ref['ms']:.3f} ms here")
    m = s["model"]
    if m and m.get("loo"):
        loo = m["loo"]
        click.echo(f"  model: sum(LUT) x residual (ridge {m['ridge']}) fitted on "
                   f"{m['networks']} networks; leave-one-out MAPE {_num(loo['mape'], '.1%')}, "
                   f"within 10% {_num(loo['within_10pct'], '.0%')}, Kendall tau "
                   f"{_num(loo['kendall_tau'], '.3f')}; uncertainty {m['sigma']:.1%}")
    click.echo(f"  reachable latency: {s['reachable_ms']['min']:.2f} .. "
               f"{s['reachable_ms']['max']:.2f} ms")
    if s["bring_up"]:
        b = s["bring_up"]
        click.echo(f"  brought up on this CPU by {b['method']} in {b['seconds']:.0f} s")


def _num(value, spec: str) -> str:
    """A statistic for people: ``n/a`` when there is none (NaN: too few networks)."""
    return "n/a" if value is None or value != value else format(value, spec)


def _check_summary(result: dict, path: str) -> str:
    parts = [f"{path}: {result['networks']} fresh networks, MAPE {_num(result['mape'], '.1%')}, "
             f"within 10% {_num(result['within_10pct'], '.0%')}, Kendall tau "
             f"{_num(result['kendall_tau'], '.3f')}"]
    for source, f in result["by_source"].items():
        parts.append(f"  {source}: {f['networks']} networks, MAPE {_num(f.get('mape'), '.1%')}, "
                     f"within 10% {_num(f.get('within_10pct'), '.0%')}")
    return "\n".join(parts)


@click.command()
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or jetson.")
@click.option("--runtime", type=click.Choice(["ort", "torch", "trt"]),
              help="Latency backend [default: ort on cpu; trt on jetson; trt or else torch on "
                   "cuda].")
@scale_option("Upscaling factor of the networks profiled.", default="2")
@click.option("--space", "space_name", default="default", show_default=True,
              type=click.Choice(["default", "mixed", "pool", "plain"]),
              help="Search space to profile: default (single-path trilevel), mixed (the "
                   "folded 3x3 / 1x1 layers of mixed-path search, --relaxation "
                   "sparse-group-lasso), pool (the 8-op pool of --evolve-rounds) or plain "
                   "(3x3 conv, ECB and 1x1 conv chains at a searched trunk width).")
@click.option("--output-size", default="1280x720", show_default=True,
              help="Deployment output resolution WIDTHxHEIGHT.")
@click.option("--precision", default="fp32", show_default=True,
              type=click.Choice(["fp32", "fp16"]))
@click.option("-o", "--output", type=OutputPath("file"),
              help="LUT file [default: <device>-<runtime>-<precision>-x<scale>-<size>[-<space>]"
                   ".json in the user data directory (TNAS_PIPELINE_PROFILES overrides it)].")
@resume_option("profile")
@click.option("--networks", default=150, show_default=True, type=COUNT,
              help="Random whole networks the latency model is fitted on (with --check: checked "
                   "against the table, default 100).")
@click.option("--fit-networks", default=50, show_default=True, type=COUNT,
              help="Networks the fit picks at random budgets, added to the model's networks "
                   "(with --check: checked too, default 20).")
@click.option("--runs", default=3, show_default=True, type=COUNT,
              help="Separate runs per block (fresh sessions, one pass over all blocks each); "
                   "their spread is each entry's uncertainty.")
@click.option("--min-pairs", default=8, show_default=True, type=COUNT,
              help="Timed pairs (block, reference) per run at least.")
@click.option("--max-pairs", default=30, show_default=True, type=COUNT,
              help="Timed pairs per run at most (a run stops earlier once the ratio's 95 %% "
                   "confidence interval is within 1 %%).")
@threads_option("CPU threads [default: all cores].")
@click.option("--seed", default=0, show_default=True, type=SEED,
              help="Seed of the model's networks.")
@click.option("--check", "check_file", type=click.Path(path_type=str),
              help="Measure fresh random networks against this LUT and report its fidelity.")
@click.option("--plot", "plot_file", type=click.Path(path_type=str),
              help="With --check: write a PNG of predicted against measured latency, with the "
                   "±10 %% band.")
@click.option("--estimate", type=str,
              help="Write a roofline estimate for a device not at hand (jetson-orin-nano, "
                   "jetson-orin-nx, jetson-agx-orin).")
@click.option("--info", "info_file", type=click.Path(path_type=str),
              help="Describe a LUT: provenance, calibration, reachable latency range.")
@click.option("--sign", "sign_file", type=click.Path(path_type=str),
              help="Sign every entry of a LUT you trust (one made before entries carried "
                   "checksums, or edited on purpose), so that it loads; no value changes.")
@no_progress_option
@json_option
def profile(device, runtime, scale, space_name, output_size, precision, output, resume, networks,
            fit_networks, runs, min_pairs, max_pairs, threads, seed, check_file, plot_file,
            estimate, info_file, sign_file, no_progress, as_json) -> None:
    """Measure what a device costs: a latency lookup table of every block of the search space.

    Every block is measured in context at the deployment resolution with the deployment
    runtime, as a ratio to a reference network (head -> upsampler -> skip) timed interleaved
    with it, which cancels the host's drift; each block in --runs separate passes, saving after
    each (--resume continues). Then whole networks (random ones and what the fit picks) are
    measured and the latency model (sum of the entries times a residual fitted on relative
    error) is fitted on them, with its leave-one-out error as its uncertainty. --check measures
    fresh networks against a table and reports how many it predicts within 10 %.

    \b
    Examples:
      tnas-pipeline profile --device cpu                    # into the user data directory
      tnas-pipeline profile --device cpu -o my-cpu.json
      tnas-pipeline profile --device cpu --resume -o my-cpu.json
      tnas-pipeline profile --device cpu --space mixed --threads 1 -o cpu-mixed.json
      tnas-pipeline profile --check my-cpu.json --json
      tnas-pipeline profile --check my-cpu.json --plot check.png
      tnas-pipeline profile --check cpu.json --networks 30 --fit-networks 10
      tnas-pipeline profile --device jetson --precision fp16      # on the Jetson, TensorRT
      tnas-pipeline profile --estimate jetson-orin-nano --precision fp16
      tnas-pipeline profile --info my-cpu.json
      tnas-pipeline profile --sign my-old-table.json
    """
    from tnas_pipeline.latency.backends import get_backend
    from tnas_pipeline.latency.backends.base import RUNTIME_KEYS
    from tnas_pipeline.latency.lut import LatencyTable, sign_table_file
    from tnas_pipeline.latency.profiler import check, random_networks, require_measured
    from tnas_pipeline.latency.roofline import estimate_table
    from tnas_pipeline.nas.fit_samples import fit_outputs
    from tnas_pipeline.plots import check_plot
    from tnas_pipeline.profiling import profile_device, user_profiles_dir
    from tnas_pipeline.search_space import SPACES

    size = parse_output_size(output_size)
    space = SPACES[space_name].with_scale(int(scale))
    suffix = "" if space_name == "default" else f"-{space_name}"
    progress = not (no_progress or as_json)
    ctx = click.get_current_context()
    explicit = {p: ctx.get_parameter_source(p) == click.core.ParameterSource.COMMANDLINE
                for p in ("networks", "fit_networks")}

    if sign_file:
        n = sign_table_file(sign_file)
        click.echo(f"{sign_file}: signed {n} entries (no value changed)", err=True)
        return

    if info_file:
        table = LatencyTable.load(info_file)
        summary = _summary(table)
        echo_json(summary) if as_json else _print_summary(summary)
        return

    if check_file:
        n_random = networks if explicit["networks"] else 100
        n_fit = fit_networks if explicit["fit_networks"] else 20
        if n_random + n_fit < MIN_CHECK_NETWORKS:
            raise UserError(f"--check needs at least {MIN_CHECK_NETWORKS} networks in all "
                            "(--networks plus --fit-networks): a ranking of fewer says nothing")
        table = LatencyTable.load(check_file)
        require_measured(table)  # before creating a backend that the estimate's device needs
        rt = table.data.get("runtime", {})
        backend = get_backend(RUNTIME_KEYS.get(rt.get("runtime"), "ort"),
                              device=table.data["device"]["kind"], precision=table.precision,
                              threads=rt.get("threads"))
        from tnas_pipeline.latency.devices import cpu_mismatch

        if why := cpu_mismatch(table.data.get("device", {})):
            click.echo(f"warning: {why}; checking it here measures how far off it is",
                       err=True)
        archs = [("random", a) for a in random_networks(table.space, n_random, 12345, "check")]
        archs += [("fit", a) for a in fit_outputs(table, n_fit, seed=54321)]
        result = check(table, backend, archs, progress=progress)
        if plot_file:
            check_plot(result, plot_file, f"{Path(check_file).name}: {table.describe()}")
            result["plot"] = str(plot_file)
        echo_json(result) if as_json else click.echo(_check_summary(result, check_file))
        if plot_file and not as_json:
            click.echo(f"plot: {plot_file}")
        return

    if estimate:
        table = estimate_table(estimate, space, size, precision)
        out = Path(output or user_profiles_dir() / f"{estimate}-{precision}-x{scale}-"
                             f"{size[0]}x{size[1]}{suffix}.json")
        if out.exists() and not resume:
            raise UserError(f"{out} exists; choose another -o")
        table.save(out)
        click.echo(table.estimate_notice(), err=True)
        summary = _summary(table)
        echo_json(summary) if as_json else _print_summary(summary)
        return

    table = profile_device(device, runtime=runtime, scale=int(scale), space=space_name,
                           output_size=size, precision=precision, output=output, resume=resume,
                           networks=networks, fit_networks=fit_networks, runs=runs,
                           min_pairs=min_pairs, max_pairs=max_pairs, threads=threads, seed=seed,
                           progress=progress)
    summary = _summary(table)
    echo_json(summary) if as_json else _print_summary(summary)

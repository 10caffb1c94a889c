"""Benchmark: a full CPU profile, and how well its table predicts this CPU, twice, 30 min apart.

For one search space and scale, on this machine (ONNX Runtime CPU provider, 1 intra-op thread,
1280×720 output):

1. ``profile``: the full profile, as ``tnas-pipeline profile`` runs it: every block in three
   separate runs as a ratio to the reference network, then ``--networks`` random networks and
   ``--fit-networks`` networks that the fit picks at random budgets, and the latency model
   fitted on them. Timed phase by phase.
2. ``check1``, right after: ``--check-networks`` fresh random networks and ``--check-fit``
   fresh fit outputs measured against the table (``profile --check``).
3. ``check2``: the same check on the same networks, at least ``--gap`` minutes after the
   profile ended (the host drifts over that time; the ratios to the reference must not).

Each step saves its result under ``bench/out/lut_fidelity/TAG/`` and is skipped when done, so
the benchmark runs in pieces (``--stage``); the table itself resumes where it stopped. The report
(``bench/results/lut_fidelity_TAG.{md,json}``) records the CPU fingerprint beside every latency
figure; ``--ship`` copies the table to ``hardware_profiles/``.

    python bench/lut_fidelity.py --tag cpu-x2 --ship
    python bench/lut_fidelity.py --tag cpu-x4 --scale 4 --ship --stage profile check1
    python bench/lut_fidelity.py --tag cpu-x4 --scale 4 --stage check2 --wait
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, cpu_line, load_state, markdown_table, save_state
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic
from tnas_pipeline.latency.backends import get_backend
from tnas_pipeline.latency.interleaved import RatioProtocol
from tnas_pipeline.latency.lut import LatencyTable
from tnas_pipeline.latency.measure import ENTRY_PROTOCOL
from tnas_pipeline.latency.profiler import (
    check,
    measure_entries,
    measure_model_networks,
    plan_model_networks,
    random_networks,
    start_table,
)
from tnas_pipeline.nas.fit_samples import fit_outputs
from tnas_pipeline.search_space import SPACES

STAGES = ("profile", "check1", "check2")
TARGET = {"default": 0.97, "pool": 0.95, "mixed": 0.95, "plain": 0.97}  # ×4: 0.95


def shipped_path(scale: int, space: str = "default") -> Path:
    """Where ``--ship`` puts the table: the file ``--device cpu`` resolves to at that scale and
    for that search space."""
    tag = "" if space == "default" else f"-{space}"
    return REPO / "hardware_profiles" / f"cpu-2core-ort-fp32-x{scale}-1280x720{tag}.json"


def run_profile(args: argparse.Namespace, work: Path, state: dict[str, Any]) -> LatencyTable:
    backend = get_backend("ort", device="cpu", precision="fp32", threads=args.threads)
    space = SPACES[args.space].with_scale(args.scale)
    path = work / "table.json"
    protocol = RatioProtocol(**{**ENTRY_PROTOCOL.to_dict(), "runs": args.runs})
    table = start_table(backend, "cpu", space, (1280, 720), path, path.exists(), protocol)
    times = state.setdefault("profile_seconds", {})
    t0 = time.monotonic()
    measure_entries(table, backend, protocol)
    times["entries"] = times.get("entries", 0.0) + time.monotonic() - t0
    t0 = time.monotonic()
    table.data.setdefault("protocol", {})["model_seed"] = 0
    plan_model_networks(table, random_networks(space, args.networks, 0), "random")
    measure_model_networks(table, backend)
    times["random_networks"] = times.get("random_networks", 0.0) + time.monotonic() - t0
    t0 = time.monotonic()
    planned = [*table.data.get("model_plan", []), *table.data.get("model_samples", [])]
    if not any(p["source"] == "fit" for p in planned):
        plan_model_networks(table, fit_outputs(table, args.fit_networks, seed=1), "fit")
    measure_model_networks(table, backend)
    times["fit_networks"] = times.get("fit_networks", 0.0) + time.monotonic() - t0
    state["profile_done"] = time.time()
    state["cpu"] = cpu_line()
    return table


def run_check(table: LatencyTable, args: argparse.Namespace) -> dict[str, Any]:
    backend = get_backend("ort", device="cpu", precision="fp32", threads=args.threads)
    archs = [("random", a) for a in random_networks(table.space, args.check_networks, 12345,
                                                    "check")]
    archs += [("fit", a) for a in fit_outputs(table, args.check_fit, seed=54321)]
    t0, started = time.monotonic(), dt.datetime.now(dt.timezone.utc)
    result = check(table, backend, archs)
    result["seconds"] = time.monotonic() - t0
    result["when"] = started.isoformat(timespec="seconds")  # when the check started
    result["cpu"] = cpu_line()
    return result


def _fid_cells(c: dict[str, Any] | None) -> list[str]:
    if not c:
        return ["–"] * 5
    by = c["by_source"]
    return [f"{c['within_10pct']:.1%}", f"{by['random']['within_10pct']:.1%}",
            f"{by['fit']['within_10pct']:.1%}" if "fit" in by else "–",
            f"{c['mape']:.2%}", f"{c['kendall_tau']:.3f}"]


def report(args: argparse.Namespace, state: dict[str, Any], table: LatencyTable) -> str:
    model = table.model or {}
    times = state.get("profile_seconds", {})
    target = 0.95 if args.scale == 4 else TARGET[args.space]
    lo, hi = table.reachable_range()
    rows = [["check", "when", "networks", "within ±10 %", "random", "fit outputs", "MAPE",
             "Kendall τ", "reference now / at profiling"]]
    for name in ("check1", "check2"):
        c = state.get(name)
        if c:
            gap = (dt.datetime.fromisoformat(c["when"]).timestamp() - state["profile_done"]) / 60
            drift = c["reference_ms_now"] / c["reference_ms_table"]
            rows.append([name, f"{gap:.0f} min after the profile", str(c["networks"]),
                         *_fid_cells(c), f"{drift:.3f}"])
        else:
            rows.append([name, "not run yet", "–", *_fid_cells(None), "–"])
    loo = model.get("loo") or {}
    space_note = "" if args.space == "default" else f", the {args.space} space"
    lines = [
        f"CPU latency table{space_note}, ×{args.scale} at 1280×720, ONNX Runtime "
        f"{table.data['runtime']['version']}, {args.threads} thread, fp32. CPU: "
        f"{state.get('cpu', cpu_line())}. Profiled {table.data['date']}.",
        f"Command: `python bench/lut_fidelity.py --tag {args.tag}"
        f"{f' --scale {args.scale}' if args.scale != 2 else ''}"
        f"{f' --space {args.space}' if args.space != 'default' else ''}"
        f"{' --ship' if args.ship else ''}`.", "",
        markdown_table(["", "result"], [
            ["full profile, wall time", f"{sum(times.values()) / 60:.1f} min: blocks "
             f"{times.get('entries', 0) / 60:.1f}, {args.networks} random networks "
             f"{times.get('random_networks', 0) / 60:.1f}, {args.fit_networks} fit outputs "
             f"{times.get('fit_networks', 0) / 60:.1f}"],
            ["blocks (entries)", f"{len(table.data['entries'])}, each from {args.runs} "
             "separate runs"],
            ["reference network", f"{table.profiled_reference_ms:.2f} ms (head → upsampler → "
             "skip)"],
            ["latency model", f"ΣLUT × residual (ridge {model.get('ridge')}) on "
             f"{model.get('networks')} networks; leave-one-out within ±10 % "
             f"{loo.get('within_10pct', 0):.1%}, MAPE {loo.get('mape', 0):.2%}; uncertainty "
             f"σ {table.sigma:.2%}"],
            ["ΣLUT alone on the same networks", f"within ±10 % "
             f"{(model.get('raw') or {}).get('within_10pct', 0):.1%}, MAPE "
             f"{(model.get('raw') or {}).get('mape', 0):.2%}"],
            ["reachable latency of the space", f"{lo:.0f} – {hi:.0f} ms"],
        ]),
        f"Fidelity on fresh networks ({args.check_networks} random + {args.check_fit} fit "
        f"outputs, each measured as a ratio to the reference in one session of up to 14 pairs, "
        f"a second when its 95 % CI ended wider than 4 %; the bar is "
        f"{target:.0%} within ±10 % and Kendall τ ≥ 0.95):", "",
        markdown_table(rows[0], rows[1:]),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tag", required=True, help="name of the work folder and results files")
    ap.add_argument("--scale", type=int, default=2, choices=[2, 3, 4])
    ap.add_argument("--space", default="default", choices=list(SPACES))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--networks", type=int, default=150)
    ap.add_argument("--fit-networks", type=int, default=50)
    ap.add_argument("--check-networks", type=int, default=100)
    ap.add_argument("--check-fit", type=int, default=20)
    ap.add_argument("--gap", type=float, default=30.0, help="minutes between profile and check2")
    ap.add_argument("--stage", nargs="*", choices=STAGES, default=list(STAGES))
    ap.add_argument("--wait", action="store_true", help="sleep until check2 may run")
    ap.add_argument("--ship", action="store_true", help="copy the table to hardware_profiles/")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    work = REPO / "bench" / "out" / "lut_fidelity" / args.tag
    state = load_state(work / "state.json")
    table = None
    if "profile" in args.stage and "profile_done" not in state:
        table = run_profile(args, work, state)
        save_state(work / "state.json", state)
    if "profile_done" not in state:
        sys.exit(f"error: the profile of {args.tag} has not finished; run --stage profile")
    table = table or LatencyTable.load(work / "table.json")
    if args.ship:
        shutil.copyfile(work / "table.json", shipped_path(args.scale, args.space))
    if "check1" in args.stage and "check1" not in state:
        state["check1"] = run_check(table, args)
        save_state(work / "state.json", state)
    if "check2" in args.stage and "check2" not in state:
        wait = state["profile_done"] + args.gap * 60 - time.time()
        if wait > 0 and args.wait:
            print(f"waiting {wait / 60:.1f} min for check2", flush=True)
            time.sleep(wait)
        if wait <= 0 or args.wait:
            state["check2"] = run_check(table, args)
            save_state(work / "state.json", state)
        else:
            print(f"check2 may run in {wait / 60:.1f} min (--stage check2, or --wait)")
    text = report(args, state, table)
    args.results.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.results / f"lut_fidelity_{args.tag}.md", text)
    write_json_atomic(args.results / f"lut_fidelity_{args.tag}.json", {
        "tag": args.tag, "space": args.space, "scale": args.scale, "cpu": state.get("cpu"),
        "profile_seconds": state.get("profile_seconds"), "model": table.model,
        "reference_ms": table.profiled_reference_ms, "reachable_ms": table.reachable_range(),
        "check1": state.get("check1"), "check2": state.get("check2")})
    print(text)


if __name__ == "__main__":
    main()

"""Benchmark: bringing up a CPU the tool has never seen, two ways, and how well each predicts it.

The shipped tables are made another CPU's: ``TNAS_PIPELINE_SHIPPED_PROFILES`` points at
``bench/fixtures/foreign-cpu`` (the tables this project shipped until e7b22e1, measured on an
AMD EPYC of family 25 model 1 with AVX2), and the cache starts empty. Then, for the ×2 default
space, each bring-up the main job can run:

1. ``transfer``: the foreign table adapted to this CPU from about a minute of measurements
   (:mod:`tnas_pipeline.latency.transfer`);
2. ``profile``: every block measured here in three runs, and ten networks for the model's
   level (:data:`tnas_pipeline.latency.bringup.BRINGUP_PROTOCOL`);

is timed, then checked like ``profile --check``: 100 fresh random networks (the same for both)
and 20 networks that each table's own fit picks at random budgets. The full profile's time and
fidelity come from ``bench/lut_fidelity.py`` (README). Each step saves its result under
``bench/out/bringup/`` and is skipped when done. Writes ``bench/results/bringup.{md,json}``.

    python bench/bringup.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, cpu_line, load_state, markdown_table, save_state
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic

FOREIGN = REPO / "bench" / "fixtures" / "foreign-cpu"
METHODS = ("transfer", "profile")


def bring_up(method: str, work: Path) -> dict[str, Any]:
    from tnas_pipeline.latency.bringup import bring_up_table
    from tnas_pipeline.latency.shipped import shipped_table

    source = shipped_table("cpu", 2, "default")
    path = work / f"{method}.json"
    path.unlink(missing_ok=True)
    t0 = time.monotonic()
    table = bring_up_table(source, method, path, progress=True)
    return {"seconds": time.monotonic() - t0, "table": str(table.path),
            "source": source.data["device"], "sigma": table.sigma,
            "factors": (table.data.get("transfer") or {}).get("op_factors")}


def check_table(path: Path, networks: int, fit: int) -> dict[str, Any]:
    from tnas_pipeline.latency.backends import get_backend
    from tnas_pipeline.latency.lut import LatencyTable
    from tnas_pipeline.latency.profiler import check, random_networks
    from tnas_pipeline.nas.fit_samples import fit_outputs

    table = LatencyTable.load(path)
    backend = get_backend("ort", device="cpu", precision="fp32", threads=table.threads)
    archs = [("random", a) for a in random_networks(table.space, networks, 12345, "check")]
    archs += [("fit", a) for a in fit_outputs(table, fit, seed=54321)]
    t0, started = time.monotonic(), dt.datetime.now(dt.timezone.utc)
    result = check(table, backend, archs)
    result.update(seconds=time.monotonic() - t0, cpu=cpu_line(),
                  when=started.isoformat(timespec="seconds"))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--networks", type=int, default=100)
    ap.add_argument("--fit", type=int, default=20)
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    from tnas_pipeline.latency.bringup import CACHE_ENV
    from tnas_pipeline.latency.shipped import SHIPPED_ENV

    work = REPO / "bench" / "out" / "bringup"
    os.environ[SHIPPED_ENV] = str(FOREIGN)
    os.environ[CACHE_ENV] = str(work / "cache")
    state = load_state(work / "state.json")
    for method in METHODS:
        if method not in state:
            state[method] = bring_up(method, work)
            save_state(work / "state.json", state)
        if "check" not in state[method]:
            state[method]["check"] = check_table(Path(state[method]["table"]), args.networks,
                                                 args.fit)
            save_state(work / "state.json", state)

    full = load_state(args.results / "lut_fidelity_cpu-x2.json")
    rows = []
    for method in METHODS:
        s, c = state[method], state[method]["check"]
        by = c["by_source"]
        rows.append([method, f"{s['seconds']:.0f} s", f"{c['within_10pct']:.1%}",
                     f"{by['random']['within_10pct']:.1%}", f"{by['fit']['within_10pct']:.1%}",
                     f"{c['mape']:.2%}", f"{c['kendall_tau']:.3f}", f"{s['sigma']:.1%}"])
    if full.get("check1"):
        c, t = full["check1"], full["profile_seconds"]
        by = c["by_source"]
        rows.append(["full profile (`bench/lut_fidelity.py`, shipped)",
                     f"{sum(t.values()) / 60:.1f} min", f"{c['within_10pct']:.1%}",
                     f"{by['random']['within_10pct']:.1%}", f"{by['fit']['within_10pct']:.1%}",
                     f"{c['mape']:.2%}", f"{c['kendall_tau']:.3f}",
                     f"{full['model']['sigma']:.1%}"])
    src = state["transfer"]["source"]["cpu_fingerprint"]
    factors = state["transfer"]["factors"] or {}
    text = "\n".join([
        f"Bringing up an unseen CPU, ×2 default space, 1280×720, ONNX Runtime, 1 thread. This "
        f"CPU: {cpu_line()}. The shipped tables were made another CPU's: {src['vendor']} family "
        f"{src['family']} model {src['model']} ({'/'.join(src['flags'])}), "
        "`bench/fixtures/foreign-cpu`. Checked on "
        f"{args.networks} fresh random networks (the same for every table) and {args.fit} "
        "networks each table's own fit picks at random budgets, each measured as a ratio to the "
        f"reference network as `profile --check` measures it; {dt.date.today().isoformat()}.",
        f"Command: `python bench/bringup.py --networks {args.networks} --fit {args.fit}`.", "",
        markdown_table(["bring-up", "time", "within ±10 %", "random", "fit outputs", "MAPE",
                        "Kendall τ", "model σ"], rows),
        "Transfer's per-op factors (this CPU's in-context cost over the other CPU's, in units "
        "of each CPU's reference network): "
        + ", ".join(f"{op} {f:.2f}" for op, f in factors.items()) + "."])
    args.results.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.results / "bringup.md", text)
    write_json_atomic(args.results / "bringup.json", {"cpu": cpu_line(), "state": state})
    print(text)


if __name__ == "__main__":
    main()

"""The README's short results summary, computed from the benchmarks' committed results.

Reads ``bench/results/{main_job,main_job_foreign,lut_fidelity_cpu-x2,arena,upscale_memory}.json``
and writes ``bench/results/summary.md``, which ``bench/update_readme.py`` copies into the README
between its ``<!-- bench:summary -->`` markers. Nothing is measured here; every figure is one a
benchmark wrote, and the details are in ``docs/benchmarks.md`` and ``docs/how-it-works.md``.

    python bench/summary.py && python bench/update_readme.py
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
HAND_DESIGNED = {"abpn": "ABPN", "ecbsr": "ECBSR", "rlfn": "RLFN", "plain": "a plain CNN",
                 "fsrcnn": "FSRCNN", "espcn": "ESPCN"}


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def main_job_lines() -> list[str]:
    lines = []
    for name, what in (("main_job", "with the shipped table of this CPU"),
                       ("main_job_foreign", "on a CPU the tool had never seen (bring-up "
                                            "included)")):
        d = _load(name)
        s = d["summary"]
        lines.append(
            f"| the README's first command on a fresh clone, {what} | "
            f"{'PASS' if s['pass'] else 'FAIL'}: {s['latency_ms']['median']:.0f} ms measured "
            f"for a {s['budget_ms']:g} ms budget ({s['budget_use']:.0%} used), Set5 "
            f"{s['psnr_y']['Set5']:.2f} dB, {d['wall_seconds'] / 60:.1f} min with the installs "
            f"| {d['date']} |")
    return lines


def table_line() -> str:
    d = _load("lut_fidelity_cpu-x2")
    c = d["check2"]
    return (f"| the shipped ×2 CPU table against {c['networks']} fresh networks, re-measured "
            f"later | {c['within_10pct']:.0%} within ±10 %, MAPE {c['mape']:.1%}, Kendall τ "
            f"{c['kendall_tau']:.3f} | — |")


def _family_means(models: list[dict], family: str) -> dict[str, tuple[float, float]] | None:
    rows = [m for m in models if m["family"] == family and m.get("psnr_y")]
    if len(rows) < 2:
        return None
    return {s: (statistics.mean(r["psnr_y"][s] for r in rows),
                statistics.stdev(r["psnr_y"][s] for r in rows)) for s in ("Set5", "Set14")}


def arena_lines() -> list[str]:
    d = _load("arena")
    lines = []
    for b in d["budgets"]:
        models = b["models"]
        nas = _family_means(models, "nas")
        if nas is None:
            continue
        hand = {f: m for f in HAND_DESIGNED if (m := _family_means(models, f))}
        best = max(hand, key=lambda f: hand[f]["Set5"][0])
        margins = {x["versus"]: x for x in b["margins_by_search"]["nas"]}
        gap = margins[best]["Set5"]
        rand = margins.get("random", {}).get("Set5")
        lines.append(
            f"| arena at {b['budget_ms']:g} ms, 3 seeds: the searched network (Set5) | "
            f"{nas['Set5'][0]:.2f} ± {nas['Set5'][1]:.2f} dB; best hand-designed family "
            f"{HAND_DESIGNED[best]} {hand[best]['Set5'][0]:.2f} dB ({gap['mean']:+.2f} ± "
            f"{gap['sd']:.2f}: {gap['verdict']})"
            + (f"; random {rand['mean']:+.2f} ± {rand['sd']:.2f} ({rand['verdict']})"
               if rand else "") + f" | {d['date']} |")
    land = d["landing"]
    nas_runs = [r for r in land["runs"] if r["family"] == "nas"]
    in_window = sum(0.85 <= r["fraction"] <= 1.0 for r in nas_runs)
    lines.append(f"| the search's derived network inside [0.85, 1.0] × budget before any fit "
                 f"(default space) | {in_window} of {len(nas_runs)} arena runs | "
                 f"{d['date']} |")
    return lines


def upscale_line() -> str:
    d = _load("upscale_memory")
    i, o = d["input"], d["output"]
    return (f"| `upscale` of a {i['width']}×{i['height']} image to {o['width']}×{o['height']} "
            f"(streamed in tile rows) | peak RSS {d['peak_rss_mb']:.0f} MB (/usr/bin/time -v) | "
            f"{d['date']} |")


def summary() -> str:
    rows = [*main_job_lines(), table_line(), *arena_lines(), upscale_line()]
    cpu = _load("arena")["device"]["cpu"]
    return "\n".join([
        "| what | result | date |", "|---|---|---|", *rows, "",
        f"Measured on {cpu}, ONNX Runtime 1 thread, FP32, 1280×720 output; training on 2 CPU "
        "threads. `python bench/summary.py` computes this table from `bench/results/`."])


def main() -> None:
    (RESULTS / "summary.md").write_text(summary() + "\n")
    print(f"wrote {RESULTS / 'summary.md'}")


if __name__ == "__main__":
    main()

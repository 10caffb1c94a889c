"""Regenerate every figure in the README with one command, then copy them into it.

Runs, in order, each benchmark with the arguments its README section names, then
``bench/update_readme.py``:

1. ``lut_fidelity``: the full profile of each shipped CPU table on this CPU, each checked
   right after (``lut_fidelity.py --ship --stage profile check1``): ×2, ×4, the mixed-path
   space and the op pool; about 2 hours;
2. ``bringup``: an unseen CPU brought up by transfer and by the bring-up profile, each checked
   (``bringup.py``): about 30 minutes;
3. ``budget_hits``: 3 budgets at ×2 and 2 at ×4, 3 seeds each, validated after all have
   searched (``budget_hits.py``), then ``plot_prediction.py``: about 50 minutes;
4. ``lut_fidelity_again``: the second check of every table, at least 30 minutes after its
   profile (``lut_fidelity.py --stage check2 --wait``): about 1 hour;
5. ``main_job``: the README's main command on a fresh clone with the shipped tables another
   CPU's (``main_job.py --foreign``), then as it is (``main_job.py``): about 30 minutes;
6. ``arena``: the searched networks (default and plain spaces) against random search, archlr0
   and the hand-designed families at 80 and 200 ms, 3 seeds, 1,000 steps each (``arena.py``):
   about 2 hours;
7. the searches against the baselines and the older search benchmarks (``search_budgets``,
   ``x4``, ``export_validate``, ``mixed_path``, ``evolution``): about 2.5 hours.

About 8.5 hours on 2 CPU cores; nothing else should run meanwhile (latency is measured). Each
step prints its wall time, and every benchmark keeps its progress under ``bench/out`` and goes
on where it stopped. ``--only NAME ...`` runs some of them, ``--from NAME`` the rest from one on.

    python bench/all.py
    python bench/all.py --only lut_fidelity bringup
    python bench/all.py --from budget_hits
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TABLES = [["--tag", "cpu-x2"], ["--tag", "cpu-x4", "--scale", "4"],
          ["--tag", "cpu-mixed", "--space", "mixed"], ["--tag", "cpu-pool", "--space", "pool"]]
STEPS = {
    "lut_fidelity": [["lut_fidelity.py", *t, "--ship", "--stage", "profile", "check1"]
                     for t in TABLES],
    "bringup": [["bringup.py"]],
    "budget_hits": [["budget_hits.py"], ["plot_prediction.py"]],
    "lut_fidelity_again": [["lut_fidelity.py", *t, "--stage", "check2", "--wait"]
                           for t in TABLES] + [["plot_prediction.py"]],
    "main_job": [["main_job.py", "--foreign"], ["main_job.py"]],
    "arena": [["arena.py", "--budgets", "80", "200", "--seeds", "0", "1", "2", "--iters", "1000",
               "--families", "nas-plain", "random-plain", "archlr0-plain", "nas", "archlr0",
               "random", "abpn", "ecbsr", "rlfn", "plain", "fsrcnn", "espcn"]],
    "search_budgets": [["search_budgets.py", "--budgets", "100", "250", "500", "1000",
                        "--ablation-budget", "250", "--minutes", "4"]],
    "x4": [["search_budgets.py", "--lut", "cpu-x4", "--budgets", "60", "120", "240",
            "--ablation-budget", "0", "--minutes", "4"]],
    "export_validate": [["export_validate.py"]],
    "mixed_path": [["mixed_path.py", "--budget", "250", "--minutes", "4"]],
    "evolution": [["evolution.py", "--budget", "250", "--minutes", "4", "--rounds", "3"]],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", choices=list(STEPS), help="run only these steps")
    ap.add_argument("--from", dest="start", choices=list(STEPS),
                    help="run this step and the ones after it")
    args = ap.parse_args()
    steps = args.only or list(STEPS)
    if args.start:
        steps = [n for n in steps if list(STEPS).index(n) >= list(STEPS).index(args.start)]
    t_all = time.monotonic()
    for name in steps:
        for cmd in STEPS[name]:
            t0 = time.monotonic()
            print(f"== bench/{' '.join(cmd)}", flush=True)
            subprocess.run([sys.executable, str(REPO / "bench" / cmd[0]), *cmd[1:]], check=True,
                           cwd=REPO)
            print(f"== {cmd[0]}: {(time.monotonic() - t0) / 60:.1f} min", flush=True)
    subprocess.run([sys.executable, str(REPO / "bench" / "update_readme.py")], check=True,
                   cwd=REPO)
    print(f"== all: {(time.monotonic() - t_all) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()

"""Regenerate every figure in the README with one command, then copy them into it.

Runs, in order, each benchmark with the arguments its README section names, then
``bench/update_readme.py``:

1. ``lut_fidelity``: ``lut_fidelity.py --threads 1 --ship --tag cpu-1thread``, which profiles
   this CPU, checks the table and ships it (the README describes the shipped table, and the
   search benchmarks refuse a table from another CPU), and ``--threads 2 --tag cpu-2threads``
   (not shipped): about 20 minutes;
2. ``search_budgets``: ``search_budgets.py --budgets 100 250 500 1000 --ablation-budget 250
   --minutes 4``, the baselines and the searched networks at ×2: about 40 minutes;
3. ``x4``: the ×4 table, profiled, checked and shipped (``lut_fidelity.py --scale 4 --ship``),
   then baselines and searched networks at ×4 (``search_budgets.py --lut cpu-x4``): about 30
   minutes;
4. ``export_validate``: ``export_validate.py``, then ``plot_prediction.py``: about 15 minutes;
5. ``mixed_path``: the mixed space's table (profile, check, ship), then mixed-path search
   against sparsestmax at 250 ms: about 20 minutes;
6. ``evolution``: the op pool's table (profile, check, ship), then evolution over the pool
   against one round on the fixed space at 250 ms: about 35 minutes;
7. ``main_job``: the README's main command on a fresh clone of HEAD, timed: about 13 minutes.

About 3 hours on 2 CPU cores; nothing else should run meanwhile (latency is measured). Each
step prints its wall time. ``--only NAME ...`` runs some of them, ``--from NAME`` the rest from
one on (to go on after a stop); ``--keep-tables`` profiles and checks without replacing the
shipped tables (the searches then use the shipped ones, which must be this CPU's).

    python bench/all.py
    python bench/all.py --only search_budgets export_validate
    python bench/all.py --from x4
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

STEPS = {
    "lut_fidelity": [["lut_fidelity.py", "--threads", "1", "--tag", "cpu-1thread"],
                     ["lut_fidelity.py", "--threads", "2", "--tag", "cpu-2threads"]],
    "search_budgets": [["search_budgets.py", "--budgets", "100", "250", "500", "1000",
                        "--ablation-budget", "250", "--minutes", "4"]],
    "x4": [["lut_fidelity.py", "--threads", "1", "--scale", "4", "--tag", "cpu-x4"],
           ["search_budgets.py", "--lut", "cpu-x4", "--budgets", "60", "120", "240",
            "--ablation-budget", "0", "--minutes", "4"]],
    "export_validate": [["export_validate.py"], ["plot_prediction.py"]],
    "mixed_path": [["lut_fidelity.py", "--threads", "1", "--space", "mixed", "--tag", "cpu-mixed"],
                   ["mixed_path.py", "--budget", "250", "--minutes", "4"]],
    "evolution": [["lut_fidelity.py", "--threads", "1", "--space", "pool", "--tag", "cpu-pool"],
                  ["evolution.py", "--budget", "250", "--minutes", "4", "--rounds", "3"]],
    "main_job": [["main_job.py"]],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", choices=list(STEPS), help="run only these steps")
    ap.add_argument("--from", dest="start", choices=list(STEPS),
                    help="run this step and the ones after it")
    ap.add_argument("--keep-tables", action="store_true",
                    help="check fresh profiles without shipping them (no lut_fidelity --ship)")
    args = ap.parse_args()
    steps = args.only or list(STEPS)
    if args.start:
        steps = [n for n in steps if list(STEPS).index(n) >= list(STEPS).index(args.start)]
    t_all = time.monotonic()
    for name in steps:
        for cmd in STEPS[name]:
            if not args.keep_tables and cmd[0] == "lut_fidelity.py" and cmd[2] == "1":
                cmd = [*cmd, "--ship"]
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

"""Regenerate every figure in the README with one command, then copy them into it.

Runs, in order, each benchmark with the arguments its README section names, then
``bench/update_readme.py``:

1. ``lut_fidelity.py --threads 1 --tag cpu-1thread`` (add ``--ship`` to replace the shipped
   table; needed on another CPU, since the search benchmark refuses a table from another CPU)
   and ``--threads 2 --tag cpu-2threads``: about 20 minutes;
2. ``train_baselines.py --minutes 4``: about 15 minutes;
3. ``search_budgets.py --budgets 100 250 500 1000 --ablation-budget 250 --minutes 4``: about
   40 minutes;
4. ``export_validate.py``, then ``plot_prediction.py``: about 15 minutes;
5. ``main_job.py``: the README's main command, timed: about 12 minutes.

About 100 minutes on 2 CPU cores; nothing else should run meanwhile (latency is measured).
``--only NAME ...`` runs some of them; ``--ship`` re-profiles and ships the CPU table first.

    python bench/all.py
    python bench/all.py --only search_budgets export_validate
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
    "train_baselines": [["train_baselines.py", "--minutes", "4"]],
    "search_budgets": [["search_budgets.py", "--budgets", "100", "250", "500", "1000",
                        "--ablation-budget", "250", "--minutes", "4"]],
    "export_validate": [["export_validate.py"], ["plot_prediction.py"]],
    "main_job": [["main_job.py"]],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", choices=list(STEPS), help="run only these steps")
    ap.add_argument("--ship", action="store_true",
                    help="re-profile this CPU and ship the table (lut_fidelity --ship)")
    args = ap.parse_args()
    steps = args.only or list(STEPS)
    for name in steps:
        for cmd in STEPS[name]:
            if args.ship and cmd[0] == "lut_fidelity.py" and "1" in cmd:
                cmd = [*cmd, "--ship"]
            t0 = time.monotonic()
            print(f"== bench/{' '.join(cmd)}", flush=True)
            subprocess.run([sys.executable, str(REPO / "bench" / cmd[0]), *cmd[1:]], check=True,
                           cwd=REPO)
            print(f"== {cmd[0]}: {(time.monotonic() - t0) / 60:.1f} min", flush=True)
    subprocess.run([sys.executable, str(REPO / "bench" / "update_readme.py")], check=True,
                   cwd=REPO)


if __name__ == "__main__":
    main()

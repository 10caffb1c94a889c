"""Benchmark: the README's main command, timed, as a user on a fresh clone runs it.

By default it clones this repository's HEAD into ``bench/out/fresh-clone`` and runs the
README's first command there, word for word: a new virtual environment, the two pip installs,
then ``tnas-pipeline run`` with its defaults (250 ms on this CPU, 8 minutes of search and
fine-tuning on the bundled T91, the on-device check, ONNX export, validation on this CPU).
``--here`` runs only ``tnas-pipeline run`` in this checkout, with this interpreter's install.

``--foreign`` makes this CPU one the tool has never seen: the shipped CPU tables are another
CPU's (``TNAS_PIPELINE_SHIPPED_PROFILES`` points at ``bench/fixtures/foreign-cpu``, measured
on an AMD EPYC of family 25 model 1 with AVX2) and the cache of tables starts empty, so the
command has to bring this CPU up itself before it searches.

Writes the wall time (the whole command and each step), the validated result and the clone's
commit to ``bench/results/main_job.{md,json}``. The issue's limit is 15 minutes on 2 CPU cores.
pip's cache is whatever this machine has: on a machine that has installed the project before,
the installs take about a minute; on a first install they download the wheels.

    python bench/main_job.py
    python bench/main_job.py --here
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, cpu_line, machine, markdown_table
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic


def readme_main_command() -> str:
    """The first line of the README's first ``bash`` block."""
    block = (REPO / "README.md").read_text().split("```bash", 1)[1].split("```", 1)[0]
    return block.strip().splitlines()[0].strip()


def clean_env(foreign_in: Path | None = None, cache: Path | None = None) -> dict[str, str]:
    """This environment without the active virtual environment, as a new shell has it; with
    ``foreign_in`` (a checkout), the shipped CPU tables are its foreign fixture and ``cache``
    is the (empty) cache of tables."""
    env = dict(os.environ)
    if foreign_in is not None:
        env["TNAS_PIPELINE_SHIPPED_PROFILES"] = str(foreign_in / "bench" / "fixtures" /
                                                    "foreign-cpu")
        shutil.rmtree(cache, ignore_errors=True)
        env["TNAS_PIPELINE_CACHE_DIR"] = str(cache)
    venv = env.pop("VIRTUAL_ENV", None)
    if venv:
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                      if not p.startswith(venv))
    env.pop("PYTHONPATH", None)
    return env


def run_fresh_clone(workdir: Path, foreign: bool) -> tuple[float, Path, str, str]:
    """Clone HEAD into ``workdir`` and run the README's main command there; return the wall
    time, the run directory, the commit and the command."""
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.strip()
    if dirty:
        print("note: uncommitted changes are not in the clone; it runs HEAD", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(workdir)], check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workdir, capture_output=True,
                            text=True, check=True).stdout.strip()
    command = readme_main_command()
    log = workdir.parent / "fresh-clone.log"
    print(f"$ {command}\n(in {workdir}; output in {log})", flush=True)
    t0 = time.monotonic()
    with log.open("w") as fh:
        env = clean_env(workdir, workdir.parent / "fresh-clone-cache") if foreign else clean_env()
        proc = subprocess.run(["bash", "-c", command], cwd=workdir, env=env,
                              stdout=fh, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    if proc.returncode not in (0, 1):  # 1 is a validation FAIL, still a result
        sys.exit(f"error: the README's main command failed (exit {proc.returncode}); see {log}")
    out = command.split(" -o ", 1)[1].split()[0] if " -o " in command else "runs/quickstart"
    return wall, workdir / out, commit, command


def run_here(out: Path, foreign: bool) -> tuple[float, Path, str, str]:
    cmd = [str(Path(sys.executable).parent / "tnas-pipeline"), "run", "-o", str(out),
           "--overwrite", "--no-progress"]
    env = clean_env(REPO, out.parent / "main-cache") if foreign else None
    if env is not None:
        env["PATH"] = os.environ["PATH"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env)
    wall = time.monotonic() - t0
    if proc.returncode not in (0, 1):
        sys.exit("error: tnas-pipeline run failed")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()
    return wall, out, commit, "tnas-pipeline run -o bench/out/main --overwrite"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--here", action="store_true",
                    help="run `tnas-pipeline run` in this checkout instead of a fresh clone")
    ap.add_argument("--foreign", action="store_true",
                    help="the shipped CPU tables are another CPU's and no table is cached")
    args = ap.parse_args()
    if args.here:
        wall, run, commit, command = run_here(REPO / "bench" / "out" / "main", args.foreign)
    else:
        wall, run, commit, command = run_fresh_clone(REPO / "bench" / "out" / "fresh-clone",
                                                     args.foreign)
    s = json.loads((run / "run.json").read_text())
    lat, ph = s["latency_ms"], s["phase_seconds"]
    drift = json.loads((run / "validation" / "model-fp32.onnx.json").read_text())["host_drift"]
    table = json.loads((run / "search" / "lut.json").read_text())
    bring = table.get("bring_up")
    date = dt.date.today().isoformat()
    where = "this checkout" if args.here else f"a fresh clone of commit {commit[:10]}"
    if args.foreign:
        where += (", with the shipped CPU tables another CPU's (bench/fixtures/foreign-cpu) "
                  "and no table of this CPU cached")
    rows = [["wall time, whole command", f"{wall / 60:.1f} min (limit 15)"]]
    if not args.here:
        rows.append(["of which setup (venv, pip installs)",
                     f"{(wall - s['wall_seconds']) / 60:.1f} min"])
    rows += [["of which `tnas-pipeline run`",
              f"{s['wall_seconds'] / 60:.1f} min: table {ph['table']:.0f} s, search and "
              f"fine-tuning {ph['search']:.0f} s, export {ph['export']:.0f} s, "
              f"validation {ph['validate']:.0f} s"],
             ["latency table", (f"brought up here ({bring['method']}, {bring['seconds']:.0f} s)"
                                if bring else table.get("method", "?"))
              + f"; CPU {cpu_line()}"],
             ["searched network", s["arch"]],
             ["budget / predicted", f"{s['budget_ms']:g} ms / {s['predicted_ms']:.1f} ms"],
             ["measured (ONNX Runtime, 1 thread)", f"{lat['median']:.1f} ms ({lat['basis']}); "
                                                   f"{lat['now_ms']:.1f} ms as read now"],
             ["budget use", f"{s['budget_use']:.1%}"],
             ["host drift (reference network, now / at profiling)",
              f"{drift['ratio']:.3f}" if drift else "–"],
             ["Set5 / Set14 x2 PSNR-Y", " / ".join(f"{v:.2f}" for v in s["psnr_y"].values())],
             ["ONNX vs PyTorch", f"max abs diff {s['max_abs_diff']:.1e}"],
             ["verdict", f"{'PASS' if s['pass'] else 'FAIL'}: {s['verdict']}"]]
    report = "\n".join([
        f"The README's main command on {where}; {machine()}; {date}.",
        f"Command: `python bench/main_job.py{' --here' if args.here else ''}"
        f"{' --foreign' if args.foreign else ''}`, which runs "
        f"`{command}`.", "",
        markdown_table(["", "result"], rows)])
    name = "main_job_foreign" if args.foreign else "main_job"
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    write_text_atomic(REPO / "bench" / "results" / f"{name}.md", report)
    write_json_atomic(REPO / "bench" / "results" / f"{name}.json",
                      {"date": date, "cpu": cpu_line(), "commit": commit,
                       "fresh_clone": not args.here, "foreign": args.foreign,
                       "command": command, "wall_seconds": wall, "summary": s,
                       "bring_up": bring})
    print(report)


if __name__ == "__main__":
    main()

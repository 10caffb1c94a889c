"""Benchmark: every registered baseline trained for the same minutes on the same data.

Trains each baseline for ``--minutes`` of training steps on 2 CPU threads on T91 + BSD200 (the
classic 291-image set; BSD200 comes from ../shared/data and the run says so when it is missing),
then scores Set5 and Set14 with the SR protocol and reports PSNR/SSIM (Y), parameters and
Mult-Adds at a 1280×720 output. Writes ``bench/results/baselines_x{scale}.{json,md}``; the
README's table is that Markdown file.

    python bench/train_baselines.py --minutes 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, data_folder, machine, markdown_table
from tnas_pipeline.evaluation import evaluate_folders
from tnas_pipeline.inference import load_upscaler
from tnas_pipeline.io_utils import write_json_atomic, write_text_atomic
from tnas_pipeline.networks import BASELINES, baseline_architecture
from tnas_pipeline.training.config import TrainConfig
from tnas_pipeline.training.trainer import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baselines", nargs="*", default=BASELINES.names())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "baselines")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    train_sets = [n for n in ("T91", "BSD200") if data_folder(n)]
    if "BSD200" not in train_sets:
        print("note: ../shared/data/BSD200 not found; training on T91 only", file=sys.stderr)
    eval_sets = [data_folder("Set5"), data_folder("Set14")]
    rows, records = [], []
    for name in args.baselines:
        arch = baseline_architecture(name, args.scale)
        run = args.out / f"{name}-x{args.scale}"
        if run.exists():
            import shutil

            shutil.rmtree(run)
        cfg = TrainConfig(arch_source=name, scale=args.scale,
                          train_data=[str(data_folder(n)) for n in train_sets],
                          val_data=[str(eval_sets[0])], minutes=args.minutes, val_every=1000,
                          seed=args.seed, threads=args.threads)
        metrics = train(arch, cfg, run, argv=sys.argv)
        result = evaluate_folders(load_upscaler(run), eval_sets)
        s5, s14 = result["sets"]["Set5"], result["sets"]["Set14"]
        records.append({"name": name, "iterations": metrics["iterations"],
                        "train_seconds": metrics["train_seconds"], "params": metrics["params"],
                        "mult_adds": metrics["mult_adds"],
                        "set5": {k: s5[k] for k in ("psnr_y", "ssim_y")},
                        "set14": {k: s14[k] for k in ("psnr_y", "ssim_y")}})
        rows.append([name, f"{metrics['params']:,}", f"{metrics['mult_adds'] / 1e9:.2f}",
                     f"{metrics['iterations']:,}", f"{s5['psnr_y']:.2f} / {s5['ssim_y']:.4f}",
                     f"{s14['psnr_y']:.2f} / {s14['ssim_y']:.4f}"])
        print(" | ".join(rows[-1]), flush=True)

    bicubic = evaluate_folders(load_upscaler(None, bicubic=True, scale=args.scale), eval_sets)
    b5, b14 = bicubic["sets"]["Set5"], bicubic["sets"]["Set14"]
    rows.insert(0, ["bicubic", "–", "–", "–", f"{b5['psnr_y']:.2f} / {b5['ssim_y']:.4f}",
                    f"{b14['psnr_y']:.2f} / {b14['ssim_y']:.4f}"])
    date = dt.date.today().isoformat()
    header = [
        f"Baselines x{args.scale}, {args.minutes:g} min of training each on "
        f"{' + '.join(train_sets)}, {args.threads} threads; {machine()}; {date}.",
        f"Command: `python bench/train_baselines.py --minutes {args.minutes:g} "
        f"--scale {args.scale}`. Mult-Adds for a 1280×720 output.",
    ]
    table = markdown_table(["model", "params", "Mult-Adds (G)", "iterations",
                            f"Set5 x{args.scale} PSNR / SSIM", f"Set14 x{args.scale} PSNR / SSIM"],
                           rows)
    args.results.mkdir(parents=True, exist_ok=True)
    report = "\n".join(header) + "\n\n" + table
    write_text_atomic(args.results / f"baselines_x{args.scale}.md", report)
    write_json_atomic(args.results / f"baselines_x{args.scale}.json", {
        "date": date, "machine": machine(), "minutes": args.minutes, "threads": args.threads,
        "train_sets": train_sets, "scale": args.scale, "models": records,
        "bicubic": {"set5": b5["psnr_y"], "set14": b14["psnr_y"]},
    })
    print(report)


if __name__ == "__main__":
    main()

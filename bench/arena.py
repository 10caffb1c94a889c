"""The arena: searched networks against hand-designed efficient SR networks and random search,
at equal training iterations, over seeds, with every latency measured on this machine.

For every latency budget, on this CPU's latency table (×2, ONNX Runtime, 1 thread, 1280×720):

* ``nas``: the one-phase pipeline (``search``: supernet search, derive, fit, on-device check,
  inherit, fine-tune) with ``--iters`` steps in all (search steps + fine-tuning steps);
* ``archlr0``: the same pipeline with the architecture learning rate at 0 (the logits never
  move: derive, fit, inherit and fine-tune with no search);
* ``random``: an architecture drawn uniformly from the same space, through the same fit and
  on-device check from neutral logits (:mod:`tnas_pipeline.nas.random_choice`), trained from
  scratch for ``--iters`` steps;
* every hand-designed family (:mod:`tnas_pipeline.networks.families`: ABPN, ECBSR, RLFN, plain CNN
  with the anchor skip, FSRCNN, ESPCN): the largest member of its grid that *measures* ≤ the
  budget here (the grid is timed once per CPU), trained from scratch for ``--iters`` steps. A
  family none of whose members fits is reported as "does not fit". A member fits when its
  measurement, widened by its uncertainty, is under the budget (the searched networks' rule).

Every model sees the same data (T91 + BSD200 from ../shared/data; the bundled T91 alone when
BSD200 is absent) minus a validation split carved out of them by file name (used for the
search's and the trainings' validation, never Set5 or Set14), the same recipe (L1, Adam 2e-3
cosine to 1e-5, the fine-tuning's batch 16 of 72 px HR patches; the supernet's own batches in
the search phase) and the same seeds. Then, with nothing else running, every distinct network
is timed on this CPU as a ratio to the table's reference network (the drift-proof protocol of
``validate``), and scored on Set5, Set14 and any ``--eval-data`` folders (PSNR/SSIM on Y).

Resumable: every model's state is saved as it finishes and every training checkpoints, so an
interrupted arena loses at most the steps since the last checkpoint of the model in training.
Trained models are kept across CPUs; latencies are keyed by the CPU's fingerprint, and on a new
CPU the grid and the final timings are measured again (the budget's members may change, and
then the newly chosen members are trained).

    python bench/arena.py --budgets 80 200 --seeds 0 1 2 --iters 1000
    python bench/arena.py --families nas random abpn --budgets 150 --seeds 0 --iters 200
    python bench/arena.py --device cuda --iters 10000 --tag gpu10x   # training on a GPU

Writes ``bench/results/arena{_TAG}.{json,md}`` and ``arena{_TAG}_pareto.png`` (see
``bench/arena_report.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, cpu_line, data_folder, load_state, machine, save_state
from tnas_pipeline.errors import UserError

# The searched families, on the default space's table, and ``-plain`` on the plain space's
# (pipeline/search_space.py: 3×3 conv, ECB and 1×1 conv chains at a searched trunk width).
SEARCHED = ("nas", "archlr0", "random", "nas-plain", "archlr0-plain", "random-plain")
HAND = ("abpn", "ecbsr", "rlfn", "plain", "fsrcnn", "espcn")
FAMILY_NAMES = SEARCHED + HAND
DEFAULT_FAMILIES = tuple(f for f in FAMILY_NAMES if not f.endswith("-plain"))
VAL_FRACTION = 0.1
# The final timing: two passes over every model (pooled, their disagreement in the uncertainty),
# as the on-device check pools two readings of a network.
TIMING_SECTIONS = ("final_latency", "final_latency_pass2")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--budgets", type=float, nargs="+", default=[80.0, 200.0],
                    help="latency budgets in ms on this CPU (default: 80 200)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--iters", type=int, default=1000,
                    help="training steps of every model; the search counts its supernet and "
                         "its fine-tuning steps (default: 1000)")
    ap.add_argument("--families", nargs="+", default=list(DEFAULT_FAMILIES), metavar="FAMILY",
                    help=f"any of: {' '.join(FAMILY_NAMES)} (default: all but the -plain "
                         "ones, whose table this CPU may first have to profile)")
    ap.add_argument("--eval-data", nargs="*", default=[], type=Path,
                    help="more folders of HR images to report on, besides Set5 and Set14")
    ap.add_argument("--device", default="cpu", help="training device (cpu, cuda); latency is "
                    "always measured on this machine's CPU")
    ap.add_argument("--threads", type=int, default=2, help="PyTorch threads for training")
    ap.add_argument("--search-fraction", type=float, default=None,
                    help="share of a searched family's steps spent in the supernet (default: "
                         "the search's own, 0.4); an ablation, best with --tag and --out")
    ap.add_argument("--tag", default="", help="results name suffix: arena_TAG.json")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "arena")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--report-only", action="store_true",
                    help="write the results from the saved state, train and time nothing")
    return ap.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Every problem with the options, before anything runs (one line each, exit 2)."""
    unknown = [f for f in args.families if f not in FAMILY_NAMES]
    if unknown:
        raise UserError(f"unknown --families {' '.join(unknown)}; choose from "
                        f"{' '.join(FAMILY_NAMES)}")
    for folder in args.eval_data:
        if not folder.is_dir():
            raise UserError(f"--eval-data {folder}: no such folder; pass a folder of HR images")
    if args.iters < 10:
        raise UserError(f"--iters must be at least 10, got {args.iters}")
    if any(b <= 0 for b in args.budgets):
        raise UserError("--budgets must be positive milliseconds")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA GPU here; train on the CPU (--device cpu)")


# -- data ----------------------------------------------------------------------------------------
def arena_data(out: Path) -> dict[str, Any]:
    """Training and validation folders (the split carved from the training images) and the
    evaluation sets."""
    from tnas_pipeline.data.split import carve_validation

    names = [n for n in ("T91", "BSD200") if data_folder(n)]
    if "BSD200" not in names:
        print("note: ../shared/data/BSD200 not found; training on the bundled T91 only",
              file=sys.stderr)
    train, val = carve_validation([data_folder(n) for n in names], out / "data", VAL_FRACTION)
    return {"train_sets": names, "train": [str(p) for p in train], "val": [str(p) for p in val],
            "eval": {"Set5": str(data_folder("Set5")), "Set14": str(data_folder("Set14"))}}


# -- latency -------------------------------------------------------------------------------------
class Timer:
    """Networks timed here as ratios to the table's reference network, in ms at the table's
    reference time (the drift since profiling cancels), cached per CPU fingerprint."""

    def __init__(self, lut, state: dict[str, Any], state_path: Path, section: str) -> None:
        from tnas_pipeline.latency.devices import fingerprint_id
        from tnas_pipeline.nas.device_check import cpu_measure

        self.fp = fingerprint_id()
        self.measure = cpu_measure(lut)
        self.cache = state.setdefault(section, {}).setdefault(self.fp, {})
        self.state, self.path = state, state_path

    def ms(self, arch, key: str | None = None) -> dict[str, float]:
        key = key or arch_key(arch)
        if key not in self.cache:
            m = self.measure(arch)
            self.cache[key] = {"ms": m.ms, "rel_uncertainty": m.rel_uncertainty}
            save_state(self.path, self.state)
        return self.cache[key]


def model_key(iters: int, budget: float, family: str, seed: int) -> str:
    """A model's key in the state: arenas of other lengths keep their own models."""
    return f"{iters}it/{budget:g}/{family}/{seed}"


def arch_key(arch) -> str:
    import hashlib
    import json

    d = arch.to_dict()
    d.pop("name")
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def size_family(family: str, budgets: list[float], scale: int, timer: Timer,
                log) -> dict[float, Any]:
    """Per budget: the largest member (most Mult-Adds) of the family's grid that measures ≤ the
    budget, or None (does not fit). "Measures ≤ the budget" is the on-device check's rule for
    the searched networks: the measurement widened by its uncertainty stays under the budget.
    Members are timed from the cheapest up, until three in a row exceed every budget."""
    from tnas_pipeline.networks.families import FAMILIES

    grid = FAMILIES.get(family).grid(scale)
    timed, over = [], 0
    for arch in grid:
        t = timer.ms(arch)
        timed.append((arch, t["ms"], t["ms"] * (1.0 + t["rel_uncertainty"])))
        log(f"  {arch.name}: {t['ms']:.1f} ms")
        # The grid is in Mult-Adds order, which latency does not follow exactly (a wider, shallower
        # member can cost more than the next one): stop after three members over every budget.
        over = over + 1 if t["ms"] > 1.15 * max(budgets) else 0
        if over == 3:
            break
    out = {}
    for b in budgets:
        # The largest is the last in the grid's order (Mult-Adds): of two members that measure
        # the same, a designer keeps the one with more capacity (plain-d4c32 over d4c24 here).
        fits = [a for a, ms, high in timed if high <= b]
        out[b] = fits[-1] if fits else None
    return out


# -- training ------------------------------------------------------------------------------------
def train_config(arch_source: str, data: dict[str, Any], args: argparse.Namespace, seed: int):
    from tnas_pipeline.training.config import TrainConfig

    # The search's fine-tuning recipe (pipeline/nas/run.py), for every model.
    return TrainConfig(arch_source=arch_source, scale=2, train_data=data["train"],
                       val_data=data["val"], iters=args.iters, batch_size=16, patch_size=72,
                       lr=2e-3, val_every=max(args.iters // 2, 1), seed=seed,
                       device=args.device, threads=args.threads)


def train_from_scratch(arch, run: Path, data, args, seed: int) -> dict[str, Any]:
    from tnas_pipeline.run_dir import RunDir
    from tnas_pipeline.training.trainer import train

    rd = RunDir(run)
    if rd.weights.is_file() and rd.metrics.is_file():
        return rd.read_json(rd.metrics)
    resume = rd.checkpoint.is_file() and rd.config.is_file()
    return train(arch, train_config(arch.name, data, args, seed), run, resume=resume,
                 overwrite=not resume, argv=sys.argv)


def base_family(family: str) -> str:
    """``nas``, ``archlr0`` or ``random`` for a searched family of either space."""
    return family.split("-")[0]


def family_space(family: str) -> str:
    """The search space a searched family searches (its table's space)."""
    return "plain" if family.endswith("-plain") else "default"


def nas_config(family: str, budget: float, seed: int, lut, data, args):
    """The search configuration of a ``nas`` or ``archlr0`` model (``archlr0``: no architecture
    step, so its network is the fit of the initial architecture parameters)."""
    from tnas_pipeline.nas.config import SearchConfig

    frozen = base_family(family) == "archlr0"
    return SearchConfig(budget_ms=budget, lut=str(lut.path), scale=2, train_data=data["train"],
                        val_data=data["val"], iters=args.iters, seed=seed,
                        arch_lr=0.0 if frozen else SearchConfig.arch_lr,
                        depth_lr=0.0 if frozen else SearchConfig.depth_lr,
                        check_on_device=True, val_every=max(args.iters // 4, 1),
                        device=args.device, threads=args.threads,
                        search_fraction=args.search_fraction or SearchConfig.search_fraction)


def run_nas(family: str, budget: float, seed: int, run: Path, lut, data, args) -> dict[str, Any]:
    import shutil

    from tnas_pipeline.nas.run import run_search

    cfg = nas_config(family, budget, seed, lut, data, args)
    saved = run / "search" / "config.json"
    # A run of another configuration (the search's defaults changed since) starts over.
    if saved.is_file() and load_state(saved) != cfg.to_dict():
        shutil.rmtree(run)
    if (run / "search.json").is_file():
        return load_state(run / "search.json")
    resume = saved.is_file()
    return run_search(cfg, lut, run, resume=resume, overwrite=not resume, argv=sys.argv)


def model_record(family: str, budget: float, seed: int, run: Path, arch, iterations: int,
                 counted: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``counted``: the run's metrics or search summary, which hold its params and Mult-Adds."""
    return {"name": arch.name, "family": family, "seed": seed, "budget_ms": budget,
            "run": str(run.relative_to(REPO)) if run.is_relative_to(REPO) else str(run),
            "arch": arch.to_dict(), "arch_key": arch_key(arch), "params": counted["params"],
            "mult_adds": counted["mult_adds"], "iterations": iterations, **extra}


def train_model(family: str, budget: float, seed: int, arch, lut, data, args,
                log) -> dict[str, Any]:
    """Train (or search) one model of the arena into its run directory; its record."""
    from tnas_pipeline.nas.random_choice import fitted_random_architecture
    from tnas_pipeline.networks.architecture import Architecture

    run = args.out / "runs" / f"{args.iters}it" / f"{budget:g}ms" / f"{family}-s{seed}"
    if base_family(family) in ("nas", "archlr0"):
        summary = run_nas(family, budget, seed, run, lut, data, args)
        arch = Architecture.load(run / "arch.json")
        return model_record(family, budget, seed, run, arch,
                            summary["search_iterations"] + summary["finetune_iterations"],
                            summary, {"predicted_ms": summary["predicted_ms"],
                             "device_check": summary["device_check"],
                             "search_iterations": summary["search_iterations"],
                             "finetune_iterations": summary["finetune_iterations"],
                             "train_seconds": summary["search_seconds"]
                             + summary["finetune_seconds"],
                             "search_config": nas_config(family, budget, seed, lut, data,
                                                         args).to_dict(),
                             "derived_predicted_ms": summary["derived_predicted_ms"],
                             "fit_moves": summary["fit_moves"],
                             "architecture_frozen_at": summary.get("architecture_frozen_at")})
    extra: dict[str, Any] = {}
    if base_family(family) == "random":
        fitted = run / "fitted_random.json"
        if fitted.is_file():  # the fit and its on-device check are not drawn again on resume
            saved = load_state(fitted)
            arch, extra = Architecture.from_dict(saved["arch"]), saved["record"]
        else:
            arch, extra = fitted_random_architecture(lut, budget, seed)
            run.mkdir(parents=True, exist_ok=True)
            save_state(fitted, {"arch": arch.to_dict(), "record": extra})
        extra = {k: extra[k] for k in ("predicted_ms", "device_check", "drawn_predicted_ms")}
    metrics = train_from_scratch(arch, run, data, args, seed)
    extra["train_seconds"] = metrics["train_seconds"]
    return model_record(family, budget, seed, run, arch, metrics["iterations"], metrics, extra)


def evaluate(record: dict[str, Any], folders: dict[str, str]) -> None:
    from tnas_pipeline.evaluation import evaluate_folders
    from tnas_pipeline.inference import load_upscaler

    # A run kept relative to the repository, or an absolute one (REPO / absolute is absolute).
    result = evaluate_folders(load_upscaler(REPO / record["run"]),
                              [Path(p) for p in folders.values()])
    sets = dict(zip(folders, result["sets"].values(), strict=True))
    record["psnr_y"] = {k: round(v["psnr_y"], 3) for k, v in sets.items()}
    record["ssim_y"] = {k: round(v["ssim_y"], 4) for k, v in sets.items()}


# -- the whole arena -----------------------------------------------------------------------------
def run_arena(args: argparse.Namespace) -> dict[str, Any]:
    from tnas_pipeline.latency.bringup import table_for_this_cpu

    args.out.mkdir(parents=True, exist_ok=True)
    state_path = args.out / "state.json"
    state = load_state(state_path)
    state.setdefault("models", {})
    state.setdefault("sizing", {})

    def log(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    data = arena_data(args.out)
    eval_sets = dict(data["eval"])
    for folder in args.eval_data:
        eval_sets[folder.resolve().name] = str(folder.resolve())
    lut = table_for_this_cpu(2, "default", bring_up="profile")
    tables = {"default": lut}

    def luts(family: str):
        """The table a searched family searches (this CPU's; brought up if it has none)."""
        space = family_space(family)
        if space not in tables:
            tables[space] = table_for_this_cpu(2, space, bring_up="profile")
        return tables[space]

    timer = Timer(lut, state, state_path, "grid_latency")
    budgets = sorted(args.budgets)
    hand = [f for f in args.families if f in HAND]
    searched = [f for f in args.families if f in SEARCHED]
    if args.report_only:
        return state | {"data": data, "lut": lut, "fingerprint": timer.fp, "eval_sets": eval_sets}

    # 1. Size every hand-designed family on this CPU (nothing else runs while it times).
    sizing = state["sizing"].setdefault(timer.fp, {})
    for family in hand:
        log(f"sizing {family} on this CPU")
        chosen = size_family(family, budgets, 2, timer, log)
        sizing[family] = {f"{b:g}": (a.to_dict() if a else None) for b, a in chosen.items()}
        save_state(state_path, state)

    # 2. Train every model (searches time their own fits on this CPU as they end).
    from tnas_pipeline.networks.architecture import Architecture

    # Seed by seed, so that a stopped arena has whole seeds of every family and budget.
    for seed in args.seeds:
        for budget in budgets:
            for family in searched + hand:
                key = model_key(args.iters, budget, family, seed)
                if family in HAND:
                    chosen = sizing[family][f"{budget:g}"]
                    if chosen is None:
                        continue
                    arch = Architecture.from_dict(chosen)
                    done = state["models"].get(key)
                    if done and done["arch_key"] == arch_key(arch):
                        continue
                else:
                    arch = None
                    done = state["models"].get(key)
                    if done and (base_family(family) == "random" or done.get(
                            "search_config") == nas_config(family, budget, seed, luts(family),
                                                           data, args).to_dict()):
                        continue
                log(f"[{key}] {'training ' + arch.name if arch else family}")
                t0 = time.monotonic()
                record = train_model(family, budget, seed, arch,
                                     luts(family) if family in SEARCHED else lut, data, args,
                                     log)
                record["wall_seconds"] = round(time.monotonic() - t0, 1)
                evaluate(record, eval_sets)
                state["models"][key] = record
                save_state(state_path, state)
                log(f"[{key}] {record['name']}: Set5 {record['psnr_y']['Set5']:.2f} dB, "
                    f"Set14 {record['psnr_y']['Set14']:.2f} dB, {record['iterations']} steps")

    # 3. Time every trained network again after all training, in TIMING_PASSES separate passes
    # over all of them (the grid's timings chose the members; these are the ones reported, their
    # readings pooled). Each pass is one process's run over every model, nothing else running.
    for p, section in enumerate(TIMING_SECTIONS, start=1):
        log(f"timing every model on this CPU, pass {p} of {len(TIMING_SECTIONS)}")
        final = Timer(lut, state, state_path, section)
        for key, record in state["models"].items():
            if key.startswith(f"{args.iters}it/"):  # not another arena's model
                final.ms(Architecture.from_dict(record["arch"]), record["arch_key"])
    return state | {"data": data, "lut": lut, "fingerprint": timer.fp, "eval_sets": eval_sets}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        check_args(args)
        torch.set_num_threads(args.threads)
        done = run_arena(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    from bench.arena_report import write_report

    write_report(done, args, machine(), cpu_line())


if __name__ == "__main__":
    main()

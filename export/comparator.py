"""Run several runners on the same inputs and compare their outputs (Polygraphy's Comparator).

:meth:`Comparator.run` feeds every runner the same host arrays, each inside its own activation;
:meth:`Comparator.compare` reports, for each runner against a reference runner and each output,
the largest and mean absolute difference, the PSNR of the runner's output against the
reference's (peak 1.0, the networks' [0, 1] image range) and how many values are NaN or Inf.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tnas_pipeline.runtime.runners.base import Runner

Feed = Mapping[str, np.ndarray]
RunResults = dict[str, list[dict[str, np.ndarray]]]  # runner name -> outputs per feed


@dataclass(frozen=True)
class OutputDiff:
    """How one runner's output differs from the reference's, over all feeds."""

    max_abs_diff: float
    mean_abs_diff: float
    psnr_db: float       # of the output against the reference output, peak 1.0; inf if equal
    nonfinite: int       # NaN or Inf values in the runner's output

    def to_dict(self) -> dict[str, float | int | None]:
        d = asdict(self)
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in d.items()}


def output_diff(outputs: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> OutputDiff:
    """Compare one output over several feeds. Non-finite values count as infinitely far off."""
    max_abs, abs_sum, sq_sum, count, nonfinite = 0.0, 0.0, 0.0, 0, 0
    for out, ref in zip(outputs, references, strict=True):
        if out.shape != ref.shape:
            raise ValueError(f"output shape {out.shape} differs from the reference's {ref.shape}")
        d = out.astype(np.float64) - ref.astype(np.float64)
        bad = ~np.isfinite(d)
        nonfinite += int((~np.isfinite(out)).sum())
        if bad.any():
            max_abs = math.inf
            d = np.where(bad, 0.0, d)
        max_abs = max(max_abs, float(np.abs(d).max(initial=0.0)))
        abs_sum += float(np.abs(d).sum())
        sq_sum += float((d * d).sum())
        count += d.size
    mse = sq_sum / max(count, 1)
    psnr = math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
    if nonfinite:
        psnr = -math.inf
    return OutputDiff(max_abs_diff=max_abs, mean_abs_diff=abs_sum / max(count, 1),
                      psnr_db=psnr, nonfinite=nonfinite)


class Comparator:
    """Runs runners on shared inputs and compares them with one of them."""

    @staticmethod
    def run(runners: Sequence[Runner], feeds: Iterable[Feed]) -> RunResults:
        """Outputs of every runner on every feed. Runners not yet active are entered here."""
        feeds = list(feeds)
        names = [r.name for r in runners]
        if len(set(names)) != len(names):
            raise ValueError(f"runner names must be unique: {names}")
        results: RunResults = {}
        for runner in runners:
            if runner.is_active:
                results[runner.name] = [runner.infer(f) for f in feeds]
            else:
                with runner:
                    results[runner.name] = [runner.infer(f) for f in feeds]
        return results

    @staticmethod
    def compare(results: RunResults, reference: str) -> dict[str, dict[str, OutputDiff]]:
        """For every runner but ``reference``: its :class:`OutputDiff` per output name."""
        if reference not in results:
            raise ValueError(f"no results from reference runner {reference!r}")
        ref = results[reference]
        report: dict[str, dict[str, OutputDiff]] = {}
        for name, outs in results.items():
            if name == reference:
                continue
            report[name] = {out: output_diff([o[out] for o in outs], [r[out] for r in ref])
                            for out in ref[0]}
        return report

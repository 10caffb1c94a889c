"""Latency as a ratio to a reference network timed interleaved with it, which cancels host drift.

A shared virtual CPU changes speed from minute to minute (the project's 2-vCPU hosts moved by
5–20 % between back-to-back sessions, and the medians of one network over five sessions had a
4.4 % coefficient of variation). Whatever slows the host slows two networks run one right after
the other alike, so each measurement here is a run of pairs, target then reference (A B A B …),
in the same process, and its result is the **median of the per-pair ratios** A/B. Over the same
five sessions that ratio varied by 1.0 %. The reference is a fixed small network of the search
space (:func:`reference_architecture`), so the ratio is in units of "reference networks", which
a latency table stores with the reference's own time; a ratio is converted back to milliseconds
with the reference timed at the time of use.

A run stops once the 95 % confidence interval of the median ratio is narrower than
``target_ci`` (relative half-width), or at a cap of pairs or seconds. The interval is
distribution-free: the order statistics ``n/2 ± 0.98·√n`` of the sorted ratios (the normal
approximation of the binomial interval for a median; Conover, *Practical Nonparametric
Statistics*, §3.2), so an outlier pair, such as one in which only one of the two networks
caught a hiccup, does not widen it the way it would a standard deviation. A value's uncertainty
comes from several separate runs (fresh sessions, at different times): their spread is what a
later measurement of the same network will scatter by.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

Timer = Callable[[], float]  # runs once, returns milliseconds


@dataclass(frozen=True)
class RatioProtocol:
    """How one value is measured: ``runs`` separate runs, each of ``warmup`` untimed pairs, then
    timed pairs until the median ratio's CI is under ``target_ci`` (with at least ``min_pairs``),
    or ``max_pairs`` or ``max_seconds`` is reached. When the runs disagree by more than
    ``max_spread`` (relative range), or a single run ends with its CI wider than
    ``retry_ci``, up to ``extra_runs`` more settle it: one run caught by a burst of load on the
    host cannot decide the value."""

    warmup: int = 2
    min_pairs: int = 8
    max_pairs: int = 30
    target_ci: float = 0.01
    max_seconds: float = 30.0
    runs: int = 3
    max_spread: float = 0.03
    retry_ci: float = 0.04
    extra_runs: int = 1

    def unsettled(self, runs: Sequence[RatioRun]) -> bool:
        """Whether ``runs`` (at least ``self.runs`` of them) call for another run."""
        if len(runs) >= self.runs + self.extra_runs:
            return False
        if len(runs) == 1:
            return runs[0].ci > self.retry_ci
        return spread(runs) > self.max_spread

    def __post_init__(self) -> None:
        if self.runs < 1 or self.min_pairs < 1 or self.max_pairs < self.min_pairs:
            raise ValueError("a ratio protocol needs runs ≥ 1 and 1 ≤ min_pairs ≤ max_pairs")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RatioRun:
    """One run of interleaved pairs."""

    ratio: float          # median of the pair ratios target / reference
    ci: float             # relative half-width of the 95 % CI of that median
    pairs: int
    target_ms: float      # median time of the target over the run
    reference_ms: float   # median time of the reference over the run

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RatioRun:
        return cls(**{k: d[k] for k in ("ratio", "ci", "pairs", "target_ms", "reference_ms")})


@dataclass(frozen=True)
class RatioStats:
    """A value from one or more runs: the median run ratio, the spread of the run ratios, and
    the reference's time while it was measured."""

    ratio: float
    sd: float                 # standard deviation of the run ratios (0 with one run)
    ci: float                 # the widest run CI (relative half-width)
    reference_ms: float       # median of the runs' reference medians
    target_ms: float          # median of the runs' target medians
    runs: tuple[RatioRun, ...] = field(default_factory=tuple)

    @property
    def ms(self) -> float:
        """The ratio in milliseconds at the reference's time during the measurement."""
        return self.ratio * self.reference_ms

    @property
    def rel_sd(self) -> float:
        return self.sd / self.ratio if self.ratio > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"ratio": round(self.ratio, 6), "sd": round(self.sd, 6), "ci": round(self.ci, 6),
                "reference_ms": round(self.reference_ms, 6),
                "target_ms": round(self.target_ms, 6), "runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RatioStats:
        return cls(float(d["ratio"]), float(d["sd"]), float(d["ci"]), float(d["reference_ms"]),
                   float(d["target_ms"]), tuple(RatioRun.from_dict(r) for r in d.get("runs", [])))


def median_ci(values: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """Distribution-free CI of the median: the order statistics ``n/2 ∓ (z/2)·√n`` (module
    docstring). With fewer than 3 values it is the whole range."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        raise ValueError("no values")
    if n < 3:
        return float(x[0]), float(x[-1])
    half = z / 2.0 * math.sqrt(n)
    lo = max(0, math.floor(n / 2.0 - half))
    hi = min(n - 1, math.ceil(n / 2.0 + half) - 1)
    return float(x[lo]), float(x[hi])


def relative_ci(ratios: Sequence[float]) -> float:
    """Half the width of :func:`median_ci`, relative to the median."""
    lo, hi = median_ci(ratios)
    med = float(np.median(ratios))
    return (hi - lo) / 2.0 / med if med > 0 else math.inf


def interleaved_run(target: Timer, reference: Timer, protocol: RatioProtocol,
                    clock: Callable[[], float] = time.monotonic) -> RatioRun:
    """One run of pairs, target then reference (module docstring)."""
    for _ in range(protocol.warmup):
        target()
        reference()
    a: list[float] = []
    r: list[float] = []
    start = clock()
    while True:
        a.append(target())
        r.append(reference())
        n = len(a)
        if n < protocol.min_pairs:
            continue
        ratios = [x / y for x, y in zip(a, r, strict=True) if y > 0]
        if (n >= protocol.max_pairs or clock() - start >= protocol.max_seconds
                or relative_ci(ratios) <= protocol.target_ci):
            break
    ratios = [x / y for x, y in zip(a, r, strict=True) if y > 0]
    if not ratios:
        raise RuntimeError("the reference network took no measurable time")
    return RatioRun(ratio=float(np.median(ratios)), ci=relative_ci(ratios), pairs=len(ratios),
                    target_ms=float(np.median(a)), reference_ms=float(np.median(r)))


def spread(runs: Sequence[RatioRun]) -> float:
    """Relative range of the runs' ratios (0 for one run)."""
    ratios = [r.ratio for r in runs]
    return (max(ratios) - min(ratios)) / float(np.median(ratios)) if len(ratios) > 1 else 0.0


def combine(runs: Sequence[RatioRun]) -> RatioStats:
    """The value of several runs: median ratio, standard deviation of the run ratios (ddof 1),
    the widest run CI, and the median times."""
    if not runs:
        raise ValueError("no runs")
    ratios = np.array([r.ratio for r in runs])
    sd = float(ratios.std(ddof=1)) if len(runs) > 1 else 0.0
    return RatioStats(ratio=float(np.median(ratios)), sd=sd, ci=max(r.ci for r in runs),
                      reference_ms=float(np.median([r.reference_ms for r in runs])),
                      target_ms=float(np.median([r.target_ms for r in runs])), runs=tuple(runs))

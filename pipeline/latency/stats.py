"""Summary statistics of repeated latency measurements."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TimingStats:
    """Median, 90th percentile, mean and standard deviation in milliseconds, over ``n`` repeats."""

    median_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    n: int

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> TimingStats:
        x = np.asarray(samples_ms, dtype=np.float64)
        if x.size == 0:
            raise ValueError("no timing samples")
        return cls(median_ms=float(np.median(x)), p90_ms=float(np.percentile(x, 90)),
                   mean_ms=float(x.mean()), std_ms=float(x.std()), n=int(x.size))

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimingStats:
        return cls(**{k: d[k] for k in ("median_ms", "p90_ms", "mean_ms", "std_ms", "n")})

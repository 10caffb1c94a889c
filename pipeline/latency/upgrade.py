"""Reading a version 1 latency table (milliseconds and a linear calibration) as version 2.

Version 1 entries are medians in milliseconds, measured with no reference network alongside, and
its calibration networks are stored as (ΣLUT, measured) pairs drawn from a recorded seed. The
conversion takes the base network ``head → upsampler (largest kernel) → skip`` that version 1
measured as its context (``context_bases``) as the reference, divides every time by its time,
rebuilds the calibration networks from their seed (keeping those whose ΣLUT matches what was
stored) and fits the version 2 model on them. The result says ``upgraded_from: 1``; its
uncertainties are single-session spreads, not the spread of separate runs.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from tnas_pipeline.latency.arch_codec import encode_arch
from tnas_pipeline.latency.model import fit_on_samples
from tnas_pipeline.search_space import SearchSpace

#: The version this module converts to.
UPGRADED_VERSION = 2


def upgrade_v1(old: dict[str, Any], table_cls: type) -> dict[str, Any]:
    """The version 2 data of version 1 table data (module docstring). ``table_cls`` is the
    table class (:class:`tnas_pipeline.latency.lut.LatencyTable`, which calls this while
    loading a file), used to sum the converted entries of each calibration network."""

    data = copy.deepcopy(old)
    space = SearchSpace.from_dict(data["search_space"]["fields"])
    bases = data.pop("context_bases", None) or {}
    if bases:
        k = max(int(key) for key in bases)
        ref_ms = float(bases[str(k)]["median_ms"])
        reference = {"arch": space.architecture([], k, name="reference").to_dict(), "ms": ref_ms}
    else:  # an estimate: milliseconds over a nominal 1 ms reference
        ref_ms, reference = 1.0, {"arch": None, "ms": 1.0}
    entries = {}
    for key, stats in data["entries"].items():
        ratio = float(stats["median_ms"]) / ref_ms
        sd = float(stats.get("std_ms", 0.0)) / ref_ms
        entries[key] = {"ratio": ratio, "sd": sd, "median_ms": float(stats["median_ms"]),
                        "sd_ms": float(stats.get("std_ms", 0.0))}
    samples_v1 = data.pop("calibration_samples", None) or []
    data.pop("calibration", None)
    data.update(version=UPGRADED_VERSION, reference=reference, entries=entries, model=None,
                model_samples=[], upgraded_from=1)
    table = table_cls(data)
    seed = (data.get("protocol") or {}).get("calibration_seed", 0)
    rng = np.random.default_rng(seed)
    kept = []
    for i, s in enumerate(samples_v1):
        arch = space.random_architecture(rng, name=f"calib-{i}")
        raw_ms = table.raw_ratio(arch) * ref_ms
        if abs(raw_ms - float(s["raw_ms"])) <= 1e-6 * max(1.0, float(s["raw_ms"])):
            kept.append((arch, float(s["measured_ms"]) / ref_ms))
    data["model_samples"] = [{"arch": encode_arch(a), "ratio": r, "source": "random"}
                             for a, r in kept]
    if kept:
        data["model"] = fit_on_samples(space, kept, table.parts)
    return data

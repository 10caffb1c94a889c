"""The trilevel hardware-aware search: relaxations, supernet, latency term, derive, fit, run."""

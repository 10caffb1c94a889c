"""SR networks: the architecture artifact, its ops, the builder, baselines and complexity."""

from pipeline.networks.architecture import Architecture, Cell, Layer, Upsampler
from pipeline.networks.baselines import BASELINES, baseline_architecture
from pipeline.networks.builder import SRNetwork, build_network
from pipeline.networks.complexity import Complexity, count_complexity

__all__ = [
    "BASELINES",
    "Architecture",
    "Cell",
    "Complexity",
    "Layer",
    "SRNetwork",
    "Upsampler",
    "baseline_architecture",
    "build_network",
    "count_complexity",
]

"""SR networks: the architecture artifact, its ops, the builder, baselines, families of
hand-designed networks and complexity."""

from pipeline.networks.architecture import Architecture, Cell, Layer, Upsampler
from pipeline.networks.baselines import BASELINES, baseline_architecture
from pipeline.networks.builder import SRNetwork, build_network
from pipeline.networks.complexity import Complexity, count_complexity
from pipeline.networks.families import FAMILIES, Family

__all__ = [
    "BASELINES",
    "FAMILIES",
    "Architecture",
    "Cell",
    "Complexity",
    "Family",
    "Layer",
    "SRNetwork",
    "Upsampler",
    "baseline_architecture",
    "build_network",
    "count_complexity",
]

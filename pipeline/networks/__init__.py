"""SR networks: the architecture artifact, its ops, the builder, baselines, families of
hand-designed networks and complexity."""

from tnas_pipeline.networks.architecture import Architecture, Cell, Layer, Upsampler
from tnas_pipeline.networks.baselines import BASELINES, baseline_architecture
from tnas_pipeline.networks.builder import SRNetwork, build_network
from tnas_pipeline.networks.complexity import Complexity, count_complexity
from tnas_pipeline.networks.families import FAMILIES, Family

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

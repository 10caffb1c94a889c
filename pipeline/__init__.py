"""tnas-pipeline: hardware-aware trilevel NAS for efficient single-image super-resolution."""

__version__ = "0.1.0"

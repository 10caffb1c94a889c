"""Training SR networks: the run directory, the loop, checkpoints and data parallelism."""

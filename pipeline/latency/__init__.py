"""Latency: block enumeration, measurement backends, lookup tables, calibration, estimates."""

"""A CPU table is trusted only on the CPU it was measured on (fingerprint, not the name)."""

import os

from pipeline.latency.devices import cpu_mismatch, device_info
from pipeline.provenance import cpu_fingerprint


def test_same_cpu_matches():
    info = device_info("cpu")
    assert info["cpu_fingerprint"] == cpu_fingerprint()
    assert cpu_mismatch(info) is None


def test_other_cpu_or_unknown_is_reported():
    info = device_info("cpu")
    other = {**info, "cpu_fingerprint": {**info["cpu_fingerprint"], "flags": ["avx512f"]}}
    msg = cpu_mismatch(other)
    assert "another CPU" in msg and "avx512f" in msg and "tnas-pipeline profile" in msg
    assert "fingerprint" in cpu_mismatch({"kind": "cpu", "cpus": os.cpu_count()})
    assert cpu_mismatch({"kind": "jetson"}) is None  # only CPU tables are checked this way

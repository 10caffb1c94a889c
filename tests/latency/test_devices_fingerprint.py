"""A CPU table is trusted only on the CPU it was measured on (fingerprint, not the name)."""

import os

from tnas_pipeline.latency.devices import cpu_mismatch, device_info, fingerprint_id, same_cpu
from tnas_pipeline.provenance import cpu_fingerprint


def test_same_cpu_matches():
    info = device_info("cpu")
    assert info["cpu_fingerprint"] == cpu_fingerprint()
    assert cpu_mismatch(info) is None and same_cpu(info)


def test_other_cpu_or_unknown_is_reported_with_both_cpus_and_the_fix():
    info = device_info("cpu")
    other = {**info, "cpu_fingerprint": {**info["cpu_fingerprint"], "flags": ["avx512f"]}}
    msg = cpu_mismatch(other)
    assert "another CPU" in msg and "(avx512f)" in msg and "this one:" in msg
    assert "--device cpu" in msg and "\n" not in msg
    assert not same_cpu(other) and not same_cpu({**info, "cpus": (os.cpu_count() or 1) + 1})
    assert "fingerprint" in cpu_mismatch({"kind": "cpu", "cpus": os.cpu_count()})
    assert cpu_mismatch({"kind": "jetson"}) is None  # only CPU tables are checked this way


def test_fingerprint_id_is_stable_and_tells_cpus_apart():
    fp = cpu_fingerprint()
    assert fingerprint_id() == fingerprint_id(fp, os.cpu_count())
    assert len(fingerprint_id()) == 12
    assert fingerprint_id({**fp, "model": "999"}) != fingerprint_id()
    assert fingerprint_id(fp, 64) != fingerprint_id(fp, 2)

"""Latency tables: every wrongly typed field named in one error, and every entry checksummed.

Issue 18: a table with ``entries`` a list, ``"median_ms": "abc"``, a bad calibration or device
field was a traceback in whichever command read it first; a hand-edited entry was used as if it
had been measured.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_cli import invoke
from tnas_pipeline.errors import UserError
from tnas_pipeline.latency.lut import LatencyTable

CHECKSUM_KEY = "sha256"


def entry_checksum(key: str, entry: dict) -> str:
    """The documented checksum, computed here independently: SHA-256 of the canonical JSON of
    the block key and the entry's other fields."""
    body = {k: v for k, v in entry.items() if k != CHECKSUM_KEY}
    canon = json.dumps({"key": key, "entry": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()

PROFILES = Path(__file__).resolve().parents[2] / "hardware_profiles"
CPU = PROFILES / "cpu-2core-ort-fp32-x2-1280x720.json"
JETSON = PROFILES / "jetson-orin-nano-fp16-x2-1280x720.json"  # a version 1 table


@pytest.fixture
def cpu_data():
    return json.loads(CPU.read_text())


def _first(d):
    return next(iter(d["entries"]))


def _write(tmp_path, data, name="t.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _load_error(path) -> str:
    with pytest.raises(UserError) as err:
        LatencyTable.load(path)
    return str(err.value)


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda d: d.update(entries=[1, 2]), "entries: must be an object, got [1, 2]"),
    (lambda d: d["entries"][_first(d)].update(median_ms="abc"),
     ".median_ms: must be a number, got \"abc\""),
    (lambda d: d["device"].update(cpu_fingerprint="AMD"),
     "device.cpu_fingerprint: must be an object"),
    (lambda d: d["device"].update(cpus="two"), "device.cpus: must be an integer"),
    (lambda d: d["device"]["cpu_fingerprint"].update(flags="avx"),
     "device.cpu_fingerprint.flags: must be a list"),
    (lambda d: d["runtime"].update(threads="x"), "runtime.threads: must be an integer"),
    (lambda d: d["model"].update(networks="many"), "model.networks: must be an integer"),
    (lambda d: d["model"].update(loo="x"), "model.loo: must be an object"),
    (lambda d: d["model"].update(sigma=float("inf")), "model.sigma: must be a finite number"),
    (lambda d: d["model_samples"][0]["arch"].update(k="x"),
     "model_samples[0].arch.k: must be an integer"),
    (lambda d: d["reference"].update(ms="fast"), "reference.ms: must be a number"),
    (lambda d: d["measurements"].update(head="x"), "measurements[head]: must be a list"),
    (lambda d: d.update(output_size=[1280, True]), "output_size[1]: must be an integer"),
    (lambda d: d.update(precision="fp8"), "precision: 'fp8' is not one of fp32, fp16"),
])
def test_a_wrongly_typed_field_is_named(tmp_path, cpu_data, mutate, fragment):
    mutate(cpu_data)
    message = _load_error(_write(tmp_path, cpu_data))
    assert "corrupt latency table" in message and fragment in message


def test_the_table_commands_say_it_in_one_line(tmp_path, cpu_data):
    cpu_data["device"]["cpu_fingerprint"] = "AMD"
    path = _write(tmp_path, cpu_data)
    for args in (["profile", "--info", path], ["profile", "--check", path]):
        res = invoke(*args)
        assert res.exit_code == 2 and "Traceback" not in res.output
        assert res.stderr.strip().splitlines() == [
            f"error: {path}: corrupt latency table (device.cpu_fingerprint: must be an object, "
            'got "AMD"); profile again']


def test_every_violation_is_listed_one_per_line(tmp_path, cpu_data):
    key = _first(cpu_data)
    cpu_data["entries"][key]["ratio"] = "abc"
    cpu_data["device"]["cpus"] = -1
    cpu_data["runtime"]["threads"] = 0
    cpu_data["output_size"] = [1280, 720.5]
    message = _load_error(_write(tmp_path, cpu_data))
    lines = message.splitlines()
    assert lines[0].endswith("corrupt latency table, 5 problems; profile again:")
    assert sorted(lines[1:]) == sorted([
        "  - output_size[1]: must be an integer, got 720.5",
        "  - device.cpus: must be at least 1, got -1",
        "  - runtime.threads: must be at least 1, got 0",
        f'  - entries[{key}].ratio: must be a number, got "abc"',
        f"  - entries[{key}]: values do not match its checksum (edited by hand?)"])


def test_a_bad_version_1_calibration_is_named(tmp_path):
    data = json.loads(JETSON.read_text())
    data["calibration"] = {"a": "x", "b": 0.0}
    data["calibration_samples"] = [{"raw_ms": 1.0, "measured_ms": "slow"}]
    message = _load_error(_write(tmp_path, data))
    assert "calibration.a: must be a number" in message
    assert "calibration_samples[0].measured_ms: must be a number" in message


def test_a_deeply_nested_table_is_refused(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "nested deeper than the limit of 32 levels" in _load_error(tmp_path / "deep.json")


# -- checksums -------------------------------------------------------------------------------------


def test_every_shipped_table_carries_checksums():
    for path in sorted(PROFILES.glob("*.json")):
        entries = json.loads(path.read_text())["entries"]
        assert entries and all(e[CHECKSUM_KEY] == entry_checksum(k, e)
                               for k, e in entries.items()), path.name


@pytest.mark.parametrize("path", [CPU, JETSON], ids=["v2", "v1"])
def test_a_hand_edited_entry_is_named(tmp_path, path):
    data = json.loads(path.read_text())
    keys = list(data["entries"])
    field = "ratio" if data["version"] == 2 else "median_ms"
    data["entries"][keys[3]][field] *= 0.5
    # Swapping two entries' values (checksums and all) is an edit too: the key is signed.
    data["entries"][keys[5]], data["entries"][keys[6]] = (data["entries"][keys[6]],
                                                          data["entries"][keys[5]])
    message = _load_error(_write(tmp_path, data))
    assert message.splitlines()[0].endswith(
        "corrupt latency table, 3 problems; profile again, or, if you trust the edits, sign it "
        f"with `tnas-pipeline profile --sign {tmp_path / 't.json'}`:")
    named = {line.split("[", 1)[1].split("]:")[0] for line in message.splitlines()[1:]}
    assert named == {keys[3], keys[5], keys[6]}
    assert "values do not match its checksum" in message


def test_an_entry_added_by_hand_is_named(tmp_path, cpu_data):
    cpu_data["entries"]["conv3x3|in:3x8x8|out:8|none|fp32"] = {"ratio": 0.1}
    message = _load_error(_write(tmp_path, cpu_data))
    assert "entries[conv3x3|in:3x8x8|out:8|none|fp32]: has no checksum" in message


def test_an_unsigned_table_is_refused_with_the_command_that_signs_it(tmp_path, cpu_data):
    for entry in cpu_data["entries"].values():
        del entry[CHECKSUM_KEY]
    path = _write(tmp_path, cpu_data)
    res = invoke("profile", "--info", path)
    assert res.exit_code == 2
    [line] = res.stderr.strip().splitlines()
    assert "entries carry no checksums" in line
    assert f"if you trust it, sign it with `tnas-pipeline profile --sign {path}`" in line
    # Signing changes no value and adds only the checksums; then the table loads.
    res = invoke("profile", "--sign", path)
    assert res.exit_code == 0 and "signed 20 entries" in res.stderr
    signed = json.loads(path.read_text())
    stripped = copy.deepcopy(signed)
    for entry in stripped["entries"].values():
        del entry[CHECKSUM_KEY]
    assert stripped == cpu_data
    assert invoke("profile", "--info", path).exit_code == 0


def test_signing_refuses_a_table_it_could_not_read(tmp_path, cpu_data):
    cpu_data["entries"][_first(cpu_data)]["ratio"] = "abc"
    path = _write(tmp_path, cpu_data)
    before = path.read_text()
    res = invoke("profile", "--sign", path)
    assert res.exit_code == 2 and "corrupt latency table, not signed" in res.stderr
    assert path.read_text() == before


def test_a_signed_version_1_table_stays_version_1(tmp_path):
    data = json.loads(JETSON.read_text())
    for entry in data["entries"].values():
        del entry[CHECKSUM_KEY]
    path = _write(tmp_path, data)
    assert invoke("profile", "--sign", path).exit_code == 0
    assert json.loads(path.read_text())["version"] == 1
    table = LatencyTable.load(path)  # read as version 2, its converted entries signed
    assert table.data["version"] == 2
    assert all(e[CHECKSUM_KEY] == entry_checksum(k, e) for k, e in table.data["entries"].items())


def test_what_the_tool_writes_is_signed(tmp_path):
    from tnas_pipeline.latency.roofline import estimate_table
    from tnas_pipeline.search_space import DEFAULT_SPACE

    table = estimate_table("jetson-orin-nano", DEFAULT_SPACE, (1280, 720), "fp16")
    table.data["entries"][next(iter(table.data["entries"]))]["ratio"] = 0.5  # a code change
    table.save(tmp_path / "e.json")
    assert LatencyTable.load(tmp_path / "e.json").data["entries"] == table.data["entries"]
    from tnas_pipeline.latency.lut_sign import sign_entries

    data = {"entries": {"k": {"ratio": 1.0}}}
    sign_entries(data["entries"])
    assert data["entries"]["k"][CHECKSUM_KEY] == entry_checksum("k", {"ratio": 1.0})


def test_a_model_of_one_network_stores_no_nan(tmp_path):
    """Kendall's tau of one network does not exist: ``null`` in the table, which stays JSON."""
    from tnas_pipeline.latency.arch_codec import encode_arch
    from tnas_pipeline.latency.profiler import fit_model
    from tnas_pipeline.latency.roofline import estimate_table
    from tnas_pipeline.search_space import DEFAULT_SPACE

    table = estimate_table("jetson-orin-nano", DEFAULT_SPACE, (1280, 720), "fp16")
    arch = DEFAULT_SPACE.random_architecture(np.random.default_rng(0))
    table.data["model_samples"] = [{"arch": encode_arch(arch), "ratio": 1.0, "source": "random"}]
    table.path = tmp_path / "one.json"
    fit_model(table)

    def no_constants(name):
        raise AssertionError(f"{name} in the table")

    data = json.loads(table.path.read_text(), parse_constant=no_constants)
    assert data["model"]["loo"]["kendall_tau"] is None
    LatencyTable.load(table.path)

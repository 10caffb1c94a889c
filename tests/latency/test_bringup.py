"""This CPU's table: a foreign shipped table is never used silently; a bring-up measures this
CPU, caches the table per fingerprint, reuses it, re-measures a bad cache, and resumes."""

import json
import logging
import shutil

import pytest

from tnas_pipeline.latency import bringup
from tnas_pipeline.latency import measure as measure_module
from tnas_pipeline.latency.bringup import cached_path, table_for_this_cpu
from tnas_pipeline.latency.devices import device_info, same_cpu
from tnas_pipeline.latency.shipped import SHIPPED_ENV, shipped_table


@pytest.fixture
def foreign(tiny_shipped, monkeypatch, tmp_path):
    """This machine as a CPU the tool has never seen, with a quick bring-up protocol."""
    from tnas_pipeline.latency.interleaved import RatioProtocol

    monkeypatch.setenv(SHIPPED_ENV, str(tiny_shipped))
    monkeypatch.setenv(bringup.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(bringup, "BRINGUP_PROTOCOL",
                        RatioProtocol(warmup=1, min_pairs=2, max_pairs=3, runs=3))
    monkeypatch.setattr(bringup, "BRINGUP_NETWORKS", 5)
    return tiny_shipped


@pytest.fixture
def said(caplog):
    """What the library logged (it logs through the ``tnas_pipeline`` loggers)."""
    caplog.set_level(logging.INFO, logger="tnas_pipeline")
    return Said(caplog)


class Said:
    def __init__(self, caplog) -> None:
        self.caplog = caplog

    def _messages(self) -> list[str]:
        return [r.getMessage() for r in self.caplog.records]

    def __iter__(self):
        return iter(self._messages())

    def __getitem__(self, i: int) -> str:
        return self._messages()[i]

    def clear(self) -> None:
        self.caplog.clear()


def test_a_foreign_table_is_returned_as_it_is_without_a_bring_up(foreign):
    table = table_for_this_cpu(2)
    assert not same_cpu(table.data["device"])
    assert table.path.parent == foreign


def test_bring_up_profiles_this_cpu_caches_and_reuses(foreign, monkeypatch, said):
    table = table_for_this_cpu(2, bring_up="profile", progress=False)
    assert same_cpu(table.data["device"]) and table.method == "measured"
    assert table.data["bring_up"]["method"] == "profile" and table.model is not None
    assert table.output_size == shipped_table("cpu").output_size
    assert table.path == cached_path(shipped_table("cpu"), "default") and table.path.is_file()
    # One line names both CPUs and what the tool does about it.
    first = said[0]
    assert "TestCPU family 1" in first and "no latency table of this CPU (" in first
    assert "profiling every block here" in first and "\n" not in first
    # Reused: nothing is measured the second time.
    monkeypatch.setattr(measure_module, "interleaved_run", _no_measuring)
    again = table_for_this_cpu(2, bring_up="profile", progress=False)
    assert again.data == table.data


def _no_measuring(*args, **kwargs):
    raise AssertionError("measured although a usable table was cached")


@pytest.mark.parametrize("damage", ["corrupt", "other-space", "unfinished"])
def test_a_bad_cache_entry_is_measured_again(foreign, damage, said):
    table = table_for_this_cpu(2, bring_up="profile", progress=False)
    data = json.loads(table.path.read_text())
    if damage == "corrupt":
        table.path.write_text("{ not json")
    elif damage == "other-space":
        data["search_space"]["fields"]["max_cells"] = 3
        data["search_space"]["hash"] = "0" * 16
        table.path.write_text(json.dumps(data))
    else:
        data["model"] = None
        table.path.write_text(json.dumps(data))
    said.clear()
    fresh = table_for_this_cpu(2, bring_up="profile", progress=False)
    assert "is not usable" in said[0] and "measuring this CPU again" in said[0]
    assert fresh.model is not None and same_cpu(fresh.data["device"])


def test_an_interrupted_bring_up_resumes(foreign, monkeypatch, said):
    calls = []
    real = measure_module.interleaved_run

    def crash_at_10(*args, **kwargs):
        calls.append(1)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(measure_module, "interleaved_run", crash_at_10)
    with pytest.raises(KeyboardInterrupt):
        table_for_this_cpu(2, bring_up="profile", progress=False)
    path = cached_path(shipped_table("cpu"), "default")
    partial = path.with_name(path.stem + ".partial.json")
    assert partial.is_file() and not path.exists()
    monkeypatch.setattr(measure_module, "interleaved_run", real)
    table = table_for_this_cpu(2, bring_up="profile", progress=False)
    assert any("continuing the interrupted bring-up" in m for m in said)
    assert table.path == path and not partial.exists()


def test_transfer_adapts_the_shipped_table_with_a_few_measurements(foreign):
    table = table_for_this_cpu(2, bring_up="transfer", progress=False)
    assert table.method == "transfer" and same_cpu(table.data["device"])
    transfer = table.data["transfer"]
    assert set(transfer["op_factors"]) == set(table.space.ops)
    assert all(f > 0 for f in transfer["op_factors"].values())
    assert transfer["source"]["device"]["cpu_fingerprint"]["vendor"] == "TestCPU"
    assert len(transfer["check"]) == bringup_check_networks()
    assert table.sigma > 0 and "transferred" in table.describe()


def bringup_check_networks() -> int:
    from tnas_pipeline.latency.transfer import CHECK_NETWORKS

    return CHECK_NETWORKS


def test_a_shipped_table_of_this_cpu_is_used_as_it_is(tiny_shipped, tmp_path, monkeypatch):
    mine = tmp_path / "shipped"
    shutil.copytree(tiny_shipped, mine)
    path = mine / "cpu-2core-ort-fp32-x2-1280x720.json"
    data = json.loads(path.read_text())
    data["device"] = device_info("cpu")
    path.write_text(json.dumps(data))
    monkeypatch.setenv(SHIPPED_ENV, str(mine))
    monkeypatch.setattr(measure_module, "interleaved_run", _no_measuring)
    assert table_for_this_cpu(2, bring_up="profile").path == path


def test_an_unknown_bring_up_is_a_user_error(foreign):
    from tnas_pipeline.errors import UserError

    with pytest.raises(UserError, match="profile or transfer"):
        table_for_this_cpu(2, bring_up="guess")

"""`tnas-pipeline profile`: one real (tiny) profile, check, info, estimate, and bad input."""

import importlib.util
import json

import pytest

from tests.cli.test_cli import assert_user_error, invoke

TINY = ["--output-size", "64x32", "--networks", "3", "--fit-networks", "2", "--runs", "1",
        "--min-pairs", "2", "--max-pairs", "3", "--threads", "1"]


@pytest.fixture(scope="module")
def cpu_lut(tmp_path_factory):
    out = tmp_path_factory.mktemp("lut") / "cpu.json"
    res = invoke("profile", "--device", "cpu", *TINY, "-o", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["method"] == "measured" and summary["entries"] == 20
    assert summary["reachable_ms"]["min"] < summary["reachable_ms"]["max"]
    assert summary["reference"]["ms"] > 0 and summary["model"]["networks"] >= 3
    data = json.loads(out.read_text())
    assert {s["source"] for s in data["model_samples"]} == {"random", "fit"}
    return out


def test_help_has_examples():
    res = invoke("profile", "--help")
    assert res.exit_code == 0 and "Examples:" in res.output


def test_check_json(cpu_lut):
    res = invoke("profile", "--check", cpu_lut, "--networks", 3, "--fit-networks", 2, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"networks", "mape", "within_10pct", "kendall_tau", "by_source"} <= set(out)
    assert out["networks"] == 5 and out["by_source"]["fit"]["networks"] == 2


def test_check_plot_draws_predicted_against_measured(cpu_lut, tmp_path):
    plot = tmp_path / "plots" / "check.png"
    res = invoke("profile", "--check", cpu_lut, "--networks", 3, "--fit-networks", 2,
                 "--plot", plot)
    assert res.exit_code == 0, res.output
    assert f"plot: {plot}" in res.output and plot.read_bytes()[:4] == b"\x89PNG"


def test_a_table_without_o_goes_to_the_user_data_directory(tmp_path, monkeypatch):
    """profile never writes hardware_profiles/ into the folder it runs from."""
    from tnas_pipeline.profiling import PROFILES_ENV

    monkeypatch.setenv(PROFILES_ENV, str(tmp_path / "user-data"))
    monkeypatch.chdir(tmp_path)
    res = invoke("profile", "--estimate", "jetson-orin-nano", "--precision", "fp16")
    assert res.exit_code == 0, res.output
    assert [p.name for p in (tmp_path / "user-data").iterdir()] == [
        "jetson-orin-nano-fp16-x2-1280x720.json"]
    assert not (tmp_path / "hardware_profiles").exists()


def test_info_and_resume_of_a_complete_table(cpu_lut):
    res = invoke("profile", "--info", cpu_lut)
    assert res.exit_code == 0 and "reachable latency" in res.output
    res = invoke("profile", "--device", "cpu", *TINY, "-o", cpu_lut, "--resume", "--json")
    assert res.exit_code == 0, res.output


def test_estimate_says_it_is_one(tmp_path):
    res = invoke("profile", "--estimate", "jetson-orin-nano", "--precision", "fp16",
                 "-o", tmp_path / "nano.json")
    assert res.exit_code == 0, res.output
    assert "roofline estimate" in res.stderr and "ROOFLINE ESTIMATE" in res.stdout
    assert_user_error(invoke("profile", "--check", tmp_path / "nano.json"),
                      "is a roofline estimate")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--device", "tpu"], "unknown device 'tpu'; known: cpu, cuda, jetson"),
    (["--output-size", "1281x720"], "not divisible by scale 2"),
    (["--output-size", "big"], "is not WIDTHxHEIGHT"),
    (["--device", "cpu", "--runtime", "trt"], "TensorRT needs an NVIDIA GPU"),
    (["--estimate", "pixel-9"], "no published peaks"),
    (["--check", "/nonexistent.json"], "no such latency table"),
    (["--device", "cpu", "--runs", "0"], "--runs and --min-pairs must be at least 1"),
    (["--device", "cpu", "--min-pairs", "9", "--max-pairs", "3"], "--max-pairs at least"),
])
def test_bad_input(args, fragment):
    assert_user_error(invoke("profile", *args), fragment)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT present")
def test_tensorrt_missing_says_how_to_install():
    res = invoke("profile", "--device", "jetson")
    assert_user_error(res, "JetPack", "pip install")


def test_corrupt_and_foreign_tables(tmp_path, cpu_lut):
    (tmp_path / "c.json").write_text("{")
    assert_user_error(invoke("profile", "--info", tmp_path / "c.json"), "corrupt latency table")
    data = json.loads(cpu_lut.read_text())
    data["search_space"]["fields"]["max_cells"] = 3
    (tmp_path / "f.json").write_text(json.dumps(data))
    assert_user_error(invoke("profile", "--check", tmp_path / "f.json"), "corrupt latency table")
    res = invoke("profile", "--device", "cpu", *TINY, "--scale", "4", "-o", cpu_lut, "--resume")
    assert_user_error(res, "x2, not x4")


def test_checking_a_table_of_another_cpu_says_so(tmp_path, cpu_lut):
    data = json.loads(cpu_lut.read_text())
    data["device"]["cpu_fingerprint"] = {"vendor": "TestCPU", "family": "1", "model": "1",
                                         "stepping": "1", "flags": []}
    (tmp_path / "other.json").write_text(json.dumps(data))
    res = invoke("profile", "--check", tmp_path / "other.json", "--networks", 2,
                 "--fit-networks", 1, "--json")
    assert res.exit_code == 0, res.output
    assert "another CPU" in res.stderr and "TestCPU" in res.stderr

"""The arena bench's options and report (the arena itself is a benchmark, run by hand)."""

import argparse

import pytest

from bench.arena import main, parse_args
from bench.arena_report import margins


def test_a_missing_eval_folder_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--eval-data", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--eval-data" in err[0] and "no such folder" in err[0]
    assert not (tmp_path / "out").exists()  # nothing half-written


@pytest.mark.parametrize("argv, message", [
    (["--families", "nas", "bogus"], "unknown --families bogus"),
    (["--iters", "3"], "at least 10"),
    (["--budgets", "0"], "positive"),
])
def test_bad_options_exit_2(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(tmp_path / "out")])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_defaults_cover_the_done_when_families():
    args = parse_args([])
    assert {"nas", "random", "archlr0", "abpn", "ecbsr", "rlfn"} <= set(args.families)
    assert len(args.seeds) >= 3 and len(args.budgets) >= 2


def _model(family, seed, s5, s14):
    return {"family": family, "seed": seed, "psnr_y": {"Set5": s5, "Set14": s14}}


def test_margins_are_paired_by_seed_and_need_two_sd():
    budget = {"models": [
        _model("nas", 0, 30.0, 28.0), _model("nas", 1, 30.5, 28.1), _model("nas", 2, 29.8, 28.2),
        # Better by 0.2 dB on every seed, whatever the seed's own level: a paired win.
        _model("abpn", 0, 29.8, 28.3), _model("abpn", 1, 30.3, 27.6), _model("abpn", 2, 29.6, 28.9),
        _model("random", 0, 30.1, 28.0),  # one seed only
    ], "does_not_fit": []}
    rows = {r["versus"]: r for r in margins(budget, ["Set5", "Set14"])}
    assert rows["abpn"]["Set5"]["mean"] == pytest.approx(0.2)
    assert rows["abpn"]["Set5"]["verdict"] == "search better"
    assert rows["abpn"]["Set14"]["verdict"] == "no margin (< 2 sd)"  # +0.4, -0.5, -0.7
    assert rows["random"]["seeds"] == [0] and "no verdict" in rows["random"]["Set5"]["verdict"]
    worse = {"models": [_model("nas", s, 29.0 + 0.01 * s, 27.0) for s in range(3)]
             + [_model("espcn", s, 29.5, 27.0) for s in range(3)], "does_not_fit": []}
    assert margins(worse, ["Set5"])[0]["Set5"]["verdict"] == "search worse"


def test_parse_args_namespace():
    args = parse_args(["--budgets", "80", "200", "--seeds", "0", "--tag", "t"])
    assert isinstance(args, argparse.Namespace) and args.budgets == [80.0, 200.0]


def test_searched_families_of_the_plain_space():
    from bench.arena import SEARCHED, base_family, family_space

    assert {"nas-plain", "archlr0-plain", "random-plain"} <= set(SEARCHED)
    assert base_family("archlr0-plain") == "archlr0" and family_space("nas-plain") == "plain"
    assert base_family("nas") == "nas" and family_space("random") == "default"


def test_margins_of_each_search_and_where_it_lands_before_the_fit():
    from bench.arena_report import landing

    models = [_model("nas-plain", s, 30.0 + s, 28.0) for s in range(3)]
    models += [_model("plain", s, 29.0 + s, 28.0) for s in range(3)]
    for m, frac in zip(models[:3], (0.95, 0.80, 0.99), strict=True):
        m.update(budget_ms=100.0, derived_predicted_ms=100.0 * frac, fit_moves=[],
                 architecture_frozen_at=300)
    rows = margins({"models": models, "does_not_fit": []}, ["Set5"], "nas-plain")
    assert rows[0]["versus"] == "plain" and rows[0]["Set5"]["mean"] == pytest.approx(1.0)
    land = landing({"budgets": [{"models": models}]})
    assert land["total"] == 3 and land["in_window"] == 2

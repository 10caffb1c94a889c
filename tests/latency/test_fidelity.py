import pytest

from tnas_pipeline.latency.fidelity import fidelity, kendall_tau


def test_kendall_tau_known_values():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # 5 concordant, 1 discordant pair of 6: tau = (5 - 1) / 6.
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


def test_fidelity_counts():
    f = fidelity([1.0, 2.1, 2.0, 5.0], [1.0, 2.0, 3.0, 4.0])
    assert f.networks == 4 and f.within_10pct == pytest.approx(0.5)
    assert f.mape == pytest.approx((0 + 0.05 + 1 / 3 + 0.25) / 4)

"""Networks the fit picks at random budgets: what profile --check and the model add to random
networks."""

import pytest

from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.fit_samples import fit_outputs


@pytest.mark.parametrize("space", ["default", "mixed"])
def test_fit_outputs_are_fitted_networks_of_the_space_and_reproducible(space):
    table = resolve_profile("cpu", 2, space)
    archs = fit_outputs(table, 2, seed=3)
    again = fit_outputs(table, 2, seed=3)
    assert [a.to_dict() for a in archs] == [a.to_dict() for a in again]
    lo, hi = table.reachable_range()
    for arch in archs:
        assert arch.scale == 2
        table.require_compatible(table.space)
        assert lo * 0.99 <= table.predict_ms(arch) <= hi * 1.01
    assert fit_outputs(table, 2, seed=4)[0].to_dict() != archs[0].to_dict()

import numpy as np

from tnas_pipeline.search_space import DEFAULT_SPACE, SearchSpace


def test_hash_is_stable_and_sensitive():
    # Changing the default space invalidates every shipped latency table: update them together.
    assert DEFAULT_SPACE.hash == SearchSpace.from_dict(DEFAULT_SPACE.to_dict()).hash
    assert DEFAULT_SPACE.hash == "d312fdefb49e77b1"
    assert DEFAULT_SPACE.with_scale(4).hash != DEFAULT_SPACE.hash
    assert SearchSpace(widths=(16, 32)).hash != DEFAULT_SPACE.hash


def test_random_architectures_stay_in_the_space():
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = DEFAULT_SPACE.random_architecture(rng)
        assert 1 <= len(arch.cells) <= DEFAULT_SPACE.max_cells
        assert arch.upsampler.kernel in DEFAULT_SPACE.upsampler_kernels
        for cell in arch.cells:
            assert len(cell.ops) == DEFAULT_SPACE.edges_per_cell
            assert all(o.op in DEFAULT_SPACE.ops and o.width in DEFAULT_SPACE.widths
                       for o in cell.ops)

"""The search's trajectory plot draws on a Figure of its own."""

import subprocess
import sys


def test_plotting_leaves_the_users_matplotlib_backend_and_pyplot_alone(tmp_path):
    # In a fresh interpreter: a user's backend choice survives the plot, and pyplot is never
    # imported (it would register a figure and pick a backend of its own).
    code = f"""
import sys
import matplotlib
matplotlib.use("svg")
from tnas_pipeline.nas.supernet import ArchParams
from tnas_pipeline.nas.trajectory import Trajectory
from tnas_pipeline.search_space import SPACES
space = SPACES["default"].with_scale(2)
t = Trajectory(space)
w = ArchParams(space).relaxed("sparsestmax", 0.3).map(lambda x: x.detach())
for i in range(3):
    t.add(i, 0.3, 0.2, 0.1, {{"latency_ms": 5.0}}, w)
t.plot({str(tmp_path / "t.png")!r}, 6.0)
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["svg", "False"]
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

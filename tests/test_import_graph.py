"""Imports run one way: networks → runtime → latency → search (``nas``) → workflows → CLI.

The graph is read from the source with :mod:`ast`, imports inside functions included (a lazy
import hides a cycle; it does not remove it). Every module of ``tnas_pipeline`` gets the layer
of its subpackage or module; a module may import its own layer or a lower one, and the module
graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"tnas_pipeline": REPO / "pipeline", "tnas_pipeline.deploy": REPO / "export"}

#: Layer of each top-level part of the package, lowest first.
LAYERS = [
    # foundations: no network, no runtime
    {"errors", "registry", "io_utils", "provenance", "metrics", "data", "tiling", "logs",
     "interrupts", "schema", "image_writers", "png_writer"},
    {"networks", "search_space", "receptive_field"},
    {"runtime", "run_dir", "run_lock", "inference", "evaluation", "upscaling"},
    {"latency"},
    {"training"},
    {"nas"},  # the search
    # workflows; "" is the package's __init__ (the API, loaded lazily)
    {"deploy", "main_job", "api", "plots", "report", "profiling", ""},
    {"cli"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def modules() -> dict[str, Path]:
    found = {}
    for prefix, root in ROOTS.items():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in known:
                out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names
                    if f"{node.module}.{a.name}" in known}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
    return out


def layer(module: str) -> int:
    parts = module.split(".")[1:]
    head = parts[0] if parts else ""
    if head not in RANK:
        raise AssertionError(f"{module}: give its part {head!r} a layer in LAYERS")
    return RANK[head]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports_of(p, known) for m, p in known.items()}


def test_every_module_imports_its_own_layer_or_lower(graph):
    upward = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
              for m, targets in graph.items() for t in sorted(targets) if layer(t) > layer(m)]
    assert not upward, "\n".join(upward)


def test_the_module_graph_has_no_cycle(graph):
    # Tarjan's strongly connected components; any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "\n".join(" ↔ ".join(c) for c in cycles)


def test_the_graph_is_read_from_the_whole_package(graph):
    assert "tnas_pipeline.networks.ops" in graph and "tnas_pipeline.deploy.exporter" in graph
    assert "tnas_pipeline.networks.reparam" in graph["tnas_pipeline.networks.ops"]

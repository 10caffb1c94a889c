"""The build configuration: one namespace, every package listed, the tables as package data.

CI builds the wheel itself and installs it into a fresh environment (``.ci/wheel.sh``); these
checks catch a package or data folder left out of ``pyproject.toml`` before that.
"""

from __future__ import annotations

from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def folder_of(package: str) -> Path:
    """The source folder of ``package`` under the build's package-dir mapping."""
    mapping = CONFIG["package-dir"]
    best = max((k for k in mapping if package == k or package.startswith(k + ".")), key=len)
    rest = package[len(best):].lstrip(".")
    return REPO / mapping[best] / Path(*rest.split(".")) if rest else REPO / mapping[best]


def test_the_build_maps_the_design_cards_folders_into_one_namespace():
    assert CONFIG["package-dir"] == {"tnas_pipeline": "pipeline",
                                     "tnas_pipeline.deploy": "export",
                                     "tnas_pipeline.hardware_profiles": "hardware_profiles"}
    assert all(p.startswith("tnas_pipeline") for p in CONFIG["packages"])


def test_every_python_package_and_image_folder_is_listed():
    listed = set(CONFIG["packages"])
    on_disk = set()
    for prefix, root in CONFIG["package-dir"].items():
        for init in (REPO / root).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / root).parts
            on_disk.add(".".join((prefix, *rel)))
    images = REPO / "pipeline" / "assets" / "images"
    on_disk |= {"tnas_pipeline.assets.images"} | {
        f"tnas_pipeline.assets.images.{d.name}" for d in images.iterdir() if d.is_dir()}
    # export/ sits beside pipeline/, so pipeline/export does not exist: no double listing.
    assert on_disk == listed, (sorted(on_disk - listed), sorted(listed - on_disk))
    for package in listed:
        assert folder_of(package).is_dir(), package


def test_the_shipped_tables_are_package_data_found_through_the_package():
    from tnas_pipeline.latency.shipped import profiles_dir

    data = CONFIG["package-data"]["tnas_pipeline.hardware_profiles"]
    assert "*.json" in data
    tables = sorted(p.name for p in profiles_dir("jetson").glob("*.json"))
    assert "cpu-2core-ort-fp32-x2-1280x720.json" in tables
    assert profiles_dir("jetson") == REPO / "hardware_profiles"  # the editable install's folder

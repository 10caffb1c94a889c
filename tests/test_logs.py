"""The library logs through ``tnas_pipeline`` loggers; bars draw only on a terminal."""

from __future__ import annotations

import io
import logging

from tnas_pipeline import logs


def test_a_progress_bar_draws_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(logs, "stderr_is_terminal", lambda: False)
    assert logs.progress_bar(range(3), enabled=True).disable
    monkeypatch.setattr(logs, "stderr_is_terminal", lambda: True)
    assert not logs.progress_bar(range(3), enabled=True).disable
    assert logs.progress_bar(range(3), enabled=False).disable


def test_cli_logging_levels_and_prefixes(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    log = logging.getLogger("tnas_pipeline.nas.x")
    logs.configure_cli_logging(0)
    log.debug("hidden")
    log.info("searching")
    log.warning("off budget")
    logs.configure_cli_logging(-1)
    log.info("quiet now")
    log.warning("warning: said once")
    logs.configure_cli_logging(1)
    log.debug("detail")
    assert stream.getvalue().splitlines() == [
        "searching", "warning: off budget", "warning: said once", "[tnas_pipeline.nas.x] detail"]
    assert len([h for h in logs.LOGGER.handlers if getattr(h, "_tnas_cli", False)]) == 1


def test_the_library_has_no_print_and_no_global_backend_switch():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for folder in ("pipeline", "export"):
        for path in (root / folder).rglob("*.py"):
            if "cli" in path.relative_to(root).parts:
                continue  # the CLI is where output belongs
            text = path.read_text()
            uses = [n.lineno for n in ast.walk(ast.parse(text))
                    if isinstance(n, ast.Name) and n.id == "print"]
            assert not uses, f"{path} prints, or passes print on, at lines {uses}"
            assert "matplotlib.use(" not in text and "matplotlib.pyplot" not in text, path

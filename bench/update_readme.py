"""Copy the benchmark results into the README, between their markers.

Every table of results in README.md sits between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``; this replaces what is between them with
``bench/results/NAME.md``, so the README says exactly what the scripts printed.
``tests/test_readme.py`` checks that they agree.

    python bench/update_readme.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKED = re.compile(r"<!-- bench:(?P<name>[\w.-]+) -->\n(?P<body>.*?)\n<!-- /bench:(?P=name) -->",
                    re.DOTALL)


def sections(text: str) -> dict[str, str]:
    """Marked sections of the README: name → the text between the markers."""
    return {m["name"]: m["body"] for m in MARKED.finditer(text)}


def result_text(name: str, results: Path = REPO / "bench" / "results") -> str:
    return (results / f"{name}.md").read_text().strip()


def updated(text: str, results: Path = REPO / "bench" / "results") -> str:
    def body(m: re.Match) -> str:
        name = m["name"]
        return f"<!-- bench:{name} -->\n{result_text(name, results)}\n<!-- /bench:{name} -->"

    return MARKED.sub(body, text)


def main() -> None:
    readme = REPO / "README.md"
    text = readme.read_text()
    missing = [n for n in sections(text) if not (REPO / "bench" / "results" / f"{n}.md").is_file()]
    if missing:
        sys.exit(f"error: no bench/results/{missing[0]}.md; run its benchmark first")
    new = updated(text)
    if new != text:
        readme.write_text(new)
    print(f"README.md: {len(sections(text))} result sections "
          f"{'updated' if new != text else 'already current'}")


if __name__ == "__main__":
    main()

"""Copy the benchmark results into the README and the docs, between their markers.

Every table of results in README.md, docs/how-it-works.md and docs/benchmarks.md sits between
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; this replaces what is between them with
``bench/results/NAME.md`` (links to repository files made relative to the document's folder), so
the documents say exactly what the scripts printed. ``tests/test_readme.py`` checks that they
agree.

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


DOCUMENTS = ("README.md", "docs/how-it-works.md", "docs/benchmarks.md")
LINK = re.compile(r"\]\((?=(bench|hardware_profiles|pipeline|export|tests|docs)/)")


def result_text(name: str, results: Path = REPO / "bench" / "results",
                document: str = "README.md") -> str:
    """``bench/results/NAME.md`` as it reads in ``document`` (links relative to its folder)."""
    text = (results / f"{name}.md").read_text().strip()
    up = "../" * (len(Path(document).parts) - 1)
    return LINK.sub(f"]({up}", text) if up else text


def updated(text: str, results: Path = REPO / "bench" / "results",
            document: str = "README.md") -> str:
    def body(m: re.Match) -> str:
        name = m["name"]
        return (f"<!-- bench:{name} -->\n{result_text(name, results, document)}\n"
                f"<!-- /bench:{name} -->")

    return MARKED.sub(body, text)


def main() -> None:
    for document in DOCUMENTS:
        path = REPO / document
        text = path.read_text()
        missing = [n for n in sections(text)
                   if not (REPO / "bench" / "results" / f"{n}.md").is_file()]
        if missing:
            sys.exit(f"error: no bench/results/{missing[0]}.md; run its benchmark first")
        new = updated(text, document=document)
        if new != text:
            path.write_text(new)
        print(f"{document}: {len(sections(text))} result sections "
              f"{'updated' if new != text else 'already current'}")


if __name__ == "__main__":
    main()

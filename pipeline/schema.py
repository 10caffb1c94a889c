"""Checking a JSON document field by field, collecting every violation before raising.

Files the user can edit (architecture artifacts, latency tables) are read at the CLI's
boundaries. A check that stops at the first problem makes fixing a file a loop of one error per
run, and a ``KeyError`` or ``OverflowError`` deep inside the pipeline is a traceback, not a
message. So each reader walks its document with a :class:`Problems` collector, which records one
line per violation (``where: what``) and turns them into one :class:`UserError`: the one line of
the CLI's style when there is one problem, a heading and one indented line per problem when
there are several.

The type rules are JSON's, strictly: an integer is a JSON integer (``true``, ``2.0`` and ``"2"``
are not), a number is finite (``Infinity`` and ``NaN``, which Python's ``json`` accepts, are
not), and limits are named in the message.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tnas_pipeline.errors import UserError

#: How deeply any document the tool reads may nest (its own files nest 6 levels at most).
MAX_NESTING = 32
#: Violations listed in one message; the rest are counted.
MAX_LISTED = 20
#: A deployment output resolution: 8K (7680×4320) in all, at most 8192 pixels a side. Beyond it
#: a static export or a profile allocates tens of GB for one activation.
MAX_OUTPUT_SIDE = 8192
MAX_OUTPUT_PIXELS = 7680 * 4320


class Problems:
    """The violations found in one document, each ``"where: what"``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}" if where else what)

    # -- typed readers: the value when it is right, else None (and a violation) ------------------
    def obj(self, value: Any, where: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.add(where, f"must be an object, got {_show(value)}")
        return None

    def array(self, value: Any, where: str, max_len: int | None = None,
              what: str = "items") -> list[Any] | None:
        if not isinstance(value, list):
            self.add(where, f"must be a list, got {_show(value)}")
            return None
        if max_len is not None and len(value) > max_len:
            self.add(where, f"has {len(value)} {what}, more than the limit of {max_len}")
            return None
        return value

    def string(self, value: Any, where: str, choices: tuple[str, ...] | None = None
               ) -> str | None:
        if not isinstance(value, str):
            self.add(where, f"must be a string, got {_show(value)}")
            return None
        if choices is not None and value not in choices:
            self.add(where, f"{value!r} is not one of {', '.join(choices)}")
            return None
        return value

    def integer(self, value: Any, where: str, lo: int | None = None, hi: int | None = None
                ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, f"must be an integer, got {_show(value)}")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.add(where, f"must be {describe_range(lo, hi)}, got {value}")
            return None
        return value

    def number(self, value: Any, where: str, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(where, f"must be a number, got {_show(value)}")
            return None
        if not math.isfinite(value):
            self.add(where, f"must be a finite number, got {value}")
            return None
        low = lo is not None and (value <= lo if lo_open else value < lo)
        if low or (hi is not None and value > hi):
            self.add(where, f"must be {describe_range(lo, hi, lo_open)}, got {value:g}")
            return None
        return float(value)

    def numbers(self, value: Any, where: str, lo: float | None = None) -> list[float] | None:
        """A list of finite numbers (each at least ``lo``)."""
        items = self.array(value, where)
        if items is None:
            return None
        before = len(self.items)
        for i, v in enumerate(items):
            self.number(v, f"{where}[{i}]", lo=lo)
        return items if len(self.items) == before else None

    def boolean(self, value: Any, where: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.add(where, f"must be true or false, got {_show(value)}")
        return None

    # -- the one error ----------------------------------------------------------------------------
    def message(self, heading: str, fix: str) -> str:
        """``heading (problem); fix`` for one problem; for several, the heading, the count and
        the fix, then one indented line per problem."""
        if len(self.items) == 1:
            return f"{heading} ({self.items[0]}); {fix}"
        listed = [f"  - {p}" for p in self.items[:MAX_LISTED]]
        if len(self.items) > MAX_LISTED:
            listed.append(f"  - ... and {len(self.items) - MAX_LISTED} more")
        return "\n".join([f"{heading}, {len(self.items)} problems; {fix}:", *listed])

    def raise_if_any(self, heading: str, fix: str) -> None:
        if self.items:
            raise UserError(self.message(heading, fix))


def nesting_depth(value: Any) -> int:
    """How many lists and objects deep ``value`` goes (iteratively: a deep document must not
    exhaust the interpreter's stack here either)."""
    depth, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            depth = max(depth, d)
            if d <= MAX_NESTING:  # deeper than the limit: no need to look further
                stack.extend((x, d + 1) for x in v)
    return depth


def read_json_document(path: str | Path, missing: str, corrupt: str) -> Any:
    """Parse a JSON file as :func:`tnas_pipeline.io_utils.read_json_file` does, and refuse a
    document nested deeper than :data:`MAX_NESTING` (Python's parser would exhaust its
    recursion limit on a deep enough one) with the same ``"{path}: {corrupt}"`` line."""
    from tnas_pipeline.io_utils import read_json_file

    try:
        data = read_json_file(path, missing, corrupt)
    except RecursionError:
        data = None
        depth = MAX_NESTING + 1
    else:
        depth = nesting_depth(data)
    if depth > MAX_NESTING:
        why = f"nested deeper than the limit of {MAX_NESTING} levels"
        raise UserError(f"{path}: {corrupt.format(exc=why)}") from None
    return data


def _show(value: Any) -> str:
    """A short rendering of a wrong value for a message."""
    text = json.dumps(value) if _plain(value) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def describe_range(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    """``between 1 and 1024``, ``at least 0``, ``greater than 0``, ``at most 5``."""
    if lo is not None and hi is not None and not lo_open:
        return f"between {lo:g} and {hi:g}"
    parts = [f"greater than {lo:g}" if lo_open else f"at least {lo:g}"] if lo is not None else []
    if hi is not None:
        parts.append(f"at most {hi:g}")
    return " and ".join(parts)

"""Per-entry checksums of a latency table, so that a hand-edited entry is detected.

A table is JSON that people open, read and sometimes "fix"; a changed ratio silently moves every
prediction, fit and budget check that uses it. So every entry carries ``sha256``: the SHA-256 of
the canonical JSON (sorted keys, no spaces) of its block key and all its other fields (the
ratio, its spread, the per-run values, the milliseconds shown beside them). Binding the key
means that swapping two entries' values is an edit too.

:meth:`LatencyTable.save` signs every entry it writes and :meth:`LatencyTable.load` verifies
them, naming each entry whose values no longer match. This detects edits and accidents, not
an attacker (who can recompute a checksum).

A table without any checksum (made before they existed, or stripped of them) is refused with
the command that signs it, ``tnas-pipeline profile --sign FILE``: such a table cannot be told
apart from an edited one, and every number of it drives the search, so the user decides, once,
to trust it. A cached table of this CPU that is refused is measured again (as any unusable
cached table is); the shipped tables carry checksums.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

CHECKSUM_KEY = "sha256"


def entry_checksum(key: str, entry: dict[str, Any]) -> str:
    """The checksum of one entry (module docstring); raises ``ValueError`` on NaN or
    infinity, which a table may not hold."""
    body = {k: v for k, v in entry.items() if k != CHECKSUM_KEY}
    canon = json.dumps({"key": key, "entry": body}, sort_keys=True, separators=(",", ":"),
                       allow_nan=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def sign_entries(entries: dict[str, Any]) -> None:
    """Set (or refresh) the checksum of every entry, in place."""
    for key, entry in entries.items():
        if isinstance(entry, dict):
            entry[CHECKSUM_KEY] = entry_checksum(key, entry)


def verify_entries(entries: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(unsigned, edited)``: the keys of the entries without a checksum, and of those whose
    values do not match theirs."""
    unsigned, edited = [], []
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            continue  # the schema names it
        stored = entry.get(CHECKSUM_KEY)
        if stored is None:
            unsigned.append(key)
            continue
        try:
            ok = stored == entry_checksum(key, entry)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            edited.append(key)
    return unsigned, edited


def sign_command(path: Any) -> str:
    return f"tnas-pipeline profile --sign {path}"

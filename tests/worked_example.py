"""The worked example of docs/authoring.md, read from the guide itself.

The guide shows its edits as ``diff`` blocks: a ``--- path`` line names the file, then lines that
begin with a space (context, kept), ``-`` (removed) or ``+`` (added), and ``...`` lines that stand for
any lines in between.  The expected output of ``myeloma-kg diff`` is the ``text`` block that follows
the marker ``<!-- expected diff -->``.  The tests apply the edits to a copy of the content and
assert that output, so the guide cannot drift from what the program does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
_EXPECTED = "<!-- expected diff -->"


@dataclass
class Edit:
    path: str
    lines: list[str]  # each begins with " ", "-", "+", or is "..."


def edits(guide: Path = GUIDE) -> list[Edit]:
    """Every ``diff`` block of the guide that names a file, in the guide's order."""
    found = []
    for lang, body in _BLOCK.findall(guide.read_text(encoding="utf-8")):
        lines = body.rstrip("\n").split("\n")
        if lang != "diff" or not lines[0].startswith("--- "):
            continue
        found.append(Edit(lines[0][4:].strip(), lines[1:]))
    return found


def expected_diff(guide: Path = GUIDE) -> str:
    """The diff text the guide promises, after its marker."""
    text = guide.read_text(encoding="utf-8")
    after = text[text.index(_EXPECTED) + len(_EXPECTED):]
    match = _BLOCK.search(after)
    assert match and match.group(1) == "text", "the expected diff is a ```text block right after its marker"
    return match.group(2).rstrip("\n")


def _segments(lines: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for line in lines:
        if line.strip() == "...":
            parts.append([])
        else:
            assert line[:1] in (" ", "-", "+"), f"a diff line begins with a space, - or +: {line!r}"
            parts[-1].append(line)
    return [p for p in parts if p]


def apply(edit: Edit, home: Path) -> None:
    """Apply one edit to the file under ``home``; each part must match exactly once, in order."""
    target = home / edit.path
    text = target.read_text(encoding="utf-8")
    position = 0
    for part in _segments(edit.lines):
        old = "\n".join(line[1:] for line in part if line[0] in " -") + "\n"
        new = "\n".join(line[1:] for line in part if line[0] in " +") + "\n"
        at = text.find(old, position)
        assert at >= 0, f"{edit.path}: the guide's lines are not in the file:\n{old}"
        if position == 0:
            assert text.count(old) == 1, f"{edit.path}: the guide's lines match more than once:\n{old}"
        text = text[:at] + new + text[at + len(old):]
        position = at + len(new)
    target.write_text(text, encoding="utf-8")


def apply_all(home: Path, *, with_version: bool = True) -> None:
    """The guide's edits on a copy of the content; ``with_version=False`` leaves the version as it is."""
    for edit in edits():
        if with_version or edit.path != "ontology/myeloma-kg.ttl":
            apply(edit, home)

"""The worked example of docs/authoring.md, read from the guide itself.

The guide shows its edits as ``diff`` blocks: a ``--- path`` line names the file, then lines that
begin with a space (context, kept), ``-`` (removed) or ``+`` (added), and ``...`` lines that stand for
any lines in between.  A marker ``<!-- example: NAME -->`` starts an example; the edits after it
belong to it.  The expected output of ``myeloma-kg diff`` for an example is the ``text`` block after
``<!-- expected diff: NAME -->``.  The tests apply the edits to a copy of the content and assert
that output, so the guide cannot drift from what the program does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "authoring.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
_MARKER = re.compile(r"<!-- example: ([\w-]+) -->")


@dataclass
class Edit:
    path: str
    lines: list[str]  # each begins with " ", "-", "+", or is "..."


def edits(example: str, guide: Path = GUIDE) -> list[Edit]:
    """The ``diff`` blocks of one example of the guide that name a file, in the guide's order."""
    text = guide.read_text(encoding="utf-8")
    starts = [(m.start(), m.group(1)) for m in _MARKER.finditer(text)]
    found = []
    for match in _BLOCK.finditer(text):
        owner = [name for at, name in starts if at < match.start()]
        lines = match.group(2).rstrip("\n").split("\n")
        if match.group(1) != "diff" or not lines[0].startswith("--- ") or not owner or owner[-1] != example:
            continue
        found.append(Edit(lines[0][4:].strip(), lines[1:]))
    assert found, f"the guide has no edits for the example '{example}'"
    return found


def block_after(marker: str, guide: Path = GUIDE) -> tuple[str, str]:
    """The language and text of the first code block after ``marker`` in the guide."""
    text = guide.read_text(encoding="utf-8")
    match = _BLOCK.search(text[text.index(marker) + len(marker):])
    assert match, f"no code block after {marker}"
    return match.group(1), match.group(2)


def expected_diff(example: str, guide: Path = GUIDE) -> str:
    """The diff text the guide promises for one example, after its marker."""
    lang, body = block_after(f"<!-- expected diff: {example} -->", guide)
    assert lang == "text", "the expected diff is a ```text block right after its marker"
    return body.rstrip("\n")


def stated_version(tbox_text: str) -> str:
    """The ``owl:versionInfo`` the ontology header states."""
    return tbox_text.split('owl:versionInfo "', 1)[1].split('"', 1)[0]


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


def apply_all(example: str, home: Path, *, with_version: bool = True) -> None:
    """One example's edits on a copy of the content; ``with_version=False`` leaves the version as it is."""
    for edit in edits(example):
        if with_version or edit.path != "ontology/myeloma-kg.ttl":
            apply(edit, home)

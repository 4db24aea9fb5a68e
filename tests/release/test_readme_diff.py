"""The README's release and diff commands run as printed in a clone of this repository: no tag or
folder is assumed that a fresh clone lacks, and what they write lands where git ignores it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from conftest import ROOT


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "myeloma-kg diff HEAD ." in b)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith("myeloma-kg ")]


def test_the_readme_s_release_and_diff_commands_run_as_printed(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {"MYELOMA_KG_RELEASES_DIR": str(tmp_path / "releases"), "MYELOMA_KG_CACHE_DIR": str(ROOT / ".cache"),
           "MYELOMA_KG_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    commands = _commands()
    assert any(c.startswith("myeloma-kg release --output out/") for c in commands), commands
    for command in commands:
        args = [sys.executable, "-m", "myeloma_kg.cli", *shlex.split(command)[1:]]
        result = subprocess.run(args, cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert result.returncode in (0, 1), (command, result.returncode, result.stderr)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == "", f"the README's commands left files git does not ignore: {status.stdout}"

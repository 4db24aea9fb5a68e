"""The README's figures come from the graph: the "At a glance" paragraph is what
scripts/at_a_glance.py prints for the shipped graph."""

from __future__ import annotations

import importlib.util

from conftest import ROOT


def _script():
    spec = importlib.util.spec_from_file_location("at_a_glance", ROOT / "scripts" / "at_a_glance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_states_the_graph_s_figures_as_they_are(kg):
    text = _script().paragraph(kg)
    assert text.startswith("At a glance (version ")
    assert text in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README.md's 'At a glance' figures are stale; run python scripts/at_a_glance.py and paste its paragraph:\n" + text)

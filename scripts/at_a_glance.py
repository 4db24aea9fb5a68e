"""Print the README's "At a glance" paragraph from the graph itself (queries/graph/at-a-glance.rq).

    python scripts/at_a_glance.py            # the paragraph, to paste into README.md
    python scripts/at_a_glance.py --check    # exit 1 if README.md does not hold it as printed

tests/project/test_readme.py runs the check, so the figures cannot go stale.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from myeloma_kg import Settings, load_graph
from myeloma_kg.graph.version import graph_version
from myeloma_kg.queries import catalog_of

README = Path(__file__).resolve().parents[1] / "README.md"


def paragraph(kg) -> str:
    query = catalog_of(kg.settings.queries_dir).program_query("graph", "at-a-glance")
    n = kg.select(query.text)[0]
    text = (
        f"At a glance (version {graph_version(kg).version}): {n['drugs']} drugs ({n['identifiers']} external identifier "
        f"records, {n['verifiedIdentifiers']} of them verified), {n['regimens']} regimens ({n['antiCD38Regimens']} "
        f"classified as anti-CD38 regimens by the reasoner) with {n['schedules']} structured dosing schedules, "
        f"{n['studies']} studies ({n['registeredTrials']} registered trials) with {n['eligibilityFacts']} eligibility "
        f"facts, {n['outcomes']} reported outcomes ({n['withHazardRatio']} with a hazard ratio, {n['withInterval']} of "
        f"them with its confidence interval), {n['publications']} publications, {n['riskGroups']} risk groups and "
        f"clinical states, {n['criteria']} applicability criteria, {n['recommendations']} recommendations with "
        f"{n['actions']} clinical actions and {n['cautions']} cautions: {n['asserted']:,} triples with the "
        f"reasoner's {n['inferred']:,}."
    )
    return textwrap.fill(text, width=100, break_on_hyphens=False)


def main() -> int:
    text = paragraph(load_graph(Settings.load()))
    if "--check" in sys.argv[1:]:
        if text not in README.read_text(encoding="utf-8"):
            print("README.md does not hold the current figures; paste this paragraph in:\n\n" + text)
            return 1
        return 0
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

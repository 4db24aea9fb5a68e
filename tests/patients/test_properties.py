"""Property-based tests: generated records, valid and broken, never crash the tools."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from myeloma_kg.patients.records import UnreadableRecord

AS_OF = dt.date(2026, 11, 24)
DRUG_WORDS = ["daratumumab", "isatuximab", "lenalidomide", "pomalidomide", "bortezomib", "carfilzomib",
              "dexamethasone", "Darzalex", "1721947", "teclistamab", "selinexor", "not-a-drug", ""]
CYTO_WORDS = ["del(17p)", "t(4;14)", "gain(1q21)", "amp(1q21)", "t(11;14)", "del(1p32)", "del(99x)"]



dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2027, 12, 31)).map(dt.date.isoformat)
odd = st.one_of(st.none(), st.integers(-5, 300), st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False),
                st.booleans(), st.lists(st.integers(), max_size=2))
line = st.fixed_dictionaries(
    {"line": st.one_of(st.integers(0, 5), odd), "drugs": st.lists(st.sampled_from(DRUG_WORDS), max_size=4),
     "start": st.one_of(dates, odd)},
    optional={"end": st.one_of(dates, odd), "progressionDate": st.one_of(dates, odd),
              "bestResponse": st.sampled_from(["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "great", 3]),
              "stopReason": st.sampled_from(["progression", "toxicity", "completed", "other", "bored"])},
)
record = st.fixed_dictionaries(
    {"id": st.one_of(st.text(min_size=1, max_size=6), st.integers(), odd),
     "therapyLines": st.one_of(st.lists(line, max_size=4), odd)},
    optional={"age": st.one_of(st.integers(10, 130), odd), "ecog": st.one_of(st.integers(-1, 6), odd),
              "creatinineClearance": st.one_of(st.floats(-10, 300, allow_nan=False), odd),
              "cytogenetics": st.one_of(st.lists(st.sampled_from(CYTO_WORDS), max_size=3), odd),
              "frailty": st.sampled_from(["fit", "intermediate", "frail", "robust"]),
              "extramedullaryDisease": st.one_of(st.booleans(), odd)},
)


def check_invariant(result):
    recommended = {r["regimen"] for r in result["recommended"]}
    not_recommended = {r["regimen"] for r in result["notRecommended"]}
    assert not recommended & not_recommended
    for item in result["recommended"] + result["notRecommended"]:
        assert item["components"] == sorted(item["components"])


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=record)
def test_generated_records_get_a_report_or_a_recommendation_never_an_exception(recommender, data):
    try:
        patient = recommender.read(json.dumps(data), as_of=AS_OF)
    except UnreadableRecord as exc:
        assert str(exc)  # a clear one-line refusal
        return
    outcome = recommender.recommend(patient)
    if outcome.recommendation is None:
        assert not outcome.report.conforms
        assert all(issue.message for issue in outcome.report.issues)
    else:
        check_invariant(outcome.recommendation)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_is_refused_cleanly(recommender, text):
    try:
        patient = recommender.read(text, as_of=AS_OF)
    except UnreadableRecord as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return
    recommender.recommend(patient)

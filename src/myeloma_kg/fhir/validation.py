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

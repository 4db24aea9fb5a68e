"""FHIR in and out: the guideline as CPG-on-FHIR resources, patient records read from FHIR
bundles, and the CDS Hooks service.  Resources are checked with the fhir.resources models."""

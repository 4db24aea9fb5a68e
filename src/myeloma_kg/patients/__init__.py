"""Patient records in (JSON, JSON-LD, Turtle, FHIR bundles), their validation, the clinical rules run
over them, and the recommendation built from the rules' verdicts."""


def __getattr__(name: str):
    """The names of release 0.1.0's ``patients`` module, from the modules that hold them now."""
    import importlib

    for module in ("read", "records"):
        found = importlib.import_module(f"{__name__}.{module}")
        if hasattr(found, name):
            return getattr(found, name)
    raise AttributeError(name)

"""The knowledge graph and where it lives: files into a store (embedded or remote), the reasoner's
inferred graph, and the version that names what was loaded."""


def __getattr__(name: str):
    """``from myeloma_kg.graph import load_graph`` as in release 0.1.0, when this was one module."""
    if name == "load_graph":
        from .load import load_graph

        return load_graph
    raise AttributeError(name)

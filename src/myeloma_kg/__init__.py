"""myeloma-kg: the Pan-Pacific anti-CD38 consensus for relapsed/refractory myeloma as a knowledge graph."""

from ._moved import install as _install_moved_names
from .config import Settings as Settings
from .config import program_version
from .graph.load import load_graph as load_graph
from .graph.store import KnowledgeGraph as KnowledgeGraph

_install_moved_names()

__all__ = ["KnowledgeGraph", "Settings", "load_graph"]
__version__ = program_version() or "unknown"

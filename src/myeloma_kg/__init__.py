"""myeloma-kg: the Pan-Pacific anti-CD38 consensus for relapsed/refractory myeloma as a knowledge graph."""

from .config import Settings as Settings
from .graph import load_graph as load_graph
from .store import KnowledgeGraph as KnowledgeGraph

__all__ = ["KnowledgeGraph", "Settings", "load_graph"]
__version__ = "0.1.0"

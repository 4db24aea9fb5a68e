"""The command line: ``myeloma-kg`` (``main``) and the text renderings of its answers."""

from .main import main as main

__all__ = ["main"]

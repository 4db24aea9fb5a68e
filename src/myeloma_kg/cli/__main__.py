"""``python -m myeloma_kg.cli``: the same command as ``myeloma-kg``."""

from .main import main

if __name__ == "__main__":
    main()

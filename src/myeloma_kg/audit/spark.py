"""The Spark engine (``--engine spark``): the same extraction SQL in Spark SQL."""

from __future__ import annotations

from pathlib import Path

from .rules import AuditInputError


class SparkEngine:
    name = "spark"

    def __init__(self, source: Path, master: str | None = None, jobs: int | None = None) -> None:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            raise AuditInputError("--engine spark needs PySpark: pip install 'myeloma-kg[spark]'") from None
        raise AuditInputError("--engine spark is not available yet")

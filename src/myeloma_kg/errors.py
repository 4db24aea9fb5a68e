"""The project's exceptions: one base class and a few specific ones that carry their context."""

from __future__ import annotations


class MyelomaKGError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 2


class SettingsError(MyelomaKGError):
    """A setting's value cannot be used."""


class OntologyLoadError(MyelomaKGError):
    """An ontology or content file could not be read."""

    def __init__(self, path: object, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


class ShapesLoadError(MyelomaKGError):
    """A SHACL shapes file could not be read."""


class StoreError(MyelomaKGError):
    """The triple store could not be opened, reached or queried."""


class QueryNotFound(MyelomaKGError):
    """No query of that name or file exists."""

    def __init__(self, name: str, known: list[str] | None = None, message: str | None = None) -> None:
        hint = f" (known queries: {', '.join(known)})" if known else ""
        super().__init__(message or f"no query named {name!r}{hint}")
        self.name = name


class QueryHeaderError(MyelomaKGError):
    """A query file's ``#+`` header is malformed."""


class QueryParameterError(MyelomaKGError):
    """A query parameter is missing, unknown or of the wrong type."""


class QuerySyntaxError(MyelomaKGError):
    """The query text does not parse."""


class QueryEvaluationError(MyelomaKGError):
    """The query parsed, but the engine could not answer it (a SERVICE endpoint that does not
    answer, a value it cannot compute)."""


class CriterionCycleError(MyelomaKGError):
    """A criterion reads its own verdict, through its members or the state it tests: the rules
    could never give it a final verdict."""

    def __init__(self, criteria: list[str]) -> None:
        super().__init__("these criteria read their own verdicts, through their members or the states they test "
                         f"(`myeloma-kg check` names each): {', '.join(criteria)}")
        self.criteria = criteria


class ReasonerError(MyelomaKGError):
    """The OWL reasoner could not run, or found the ontology inconsistent."""


class RequestError(MyelomaKGError):
    """An HTTP request that is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SparqlRequestError(RequestError):
    """A request to the SPARQL endpoint is refused (a malformed, forbidden or too costly query)."""


class CdsRequestError(RequestError):
    """A CDS Hooks request cannot be answered (400 malformed, 404 unknown service, 412 wrong version)."""


class UnreadableRecord(MyelomaKGError):
    """The input is not a patient record at all (not JSON or Turtle, or the wrong shape)."""

    status = 400

    def __init__(self, message: str = "", status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class RecordLimitExceeded(UnreadableRecord):
    """A patient record over one of the size limits, refused before the costly reading: 413 for
    the bytes of the record, 422 for too many items or too deep a nesting.  ``limit`` is the
    setting's name, ``maximum`` its value."""

    def __init__(self, message: str, *, limit: str, maximum: int, status: int = 422) -> None:
        super().__init__(message, status)
        self.limit = limit
        self.maximum = maximum


class PatientWorkError(RequestError):
    """Patient work that was not done: the time limit passed, every worker was busy, the worker
    stopped, or the client went away (503)."""


class RxNormReadError(MyelomaKGError):
    """An RxNorm release folder lacks a file or holds lines that cannot be read."""


class ReleaseError(MyelomaKGError):
    """A release cannot be written or read: a version clash, a folder that is not a release.

    ``reason`` says what is wrong in words, without paths or the reader's own messages, for pages
    that anyone may see (``/changes``); the message itself is for the operator."""

    exit_code = 1

    def __init__(self, message: str, reason: str | None = None, side: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.side = side  # the name of the side that could not be read, when it is known


class DiffInputError(MyelomaKGError):
    """One side of a diff is neither a release folder, a checkout nor a git revision of the content."""

    def __init__(self, message: str, reason: str | None = None, side: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.side = side  # the name of the side that could not be read, when it is known


class VersionPinError(MyelomaKGError):
    """The request is pinned to a graph version other than the one that would answer it (HTTP 412)."""

    exit_code = 3
    status = 412

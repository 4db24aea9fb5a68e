"""Limits on a patient record, checked before the costly steps.

Validation and the rules cost far more than the size of a record suggests (pySHACL's work grows
with the square of the problems it reports), so a record is measured before it is read: its
bytes, how deeply its JSON nests (one pass over the text, before ``json.loads``), how many lines,
drugs, findings and other list items it holds, its JSON-LD contexts, the resources of a FHIR
Bundle, and the RDF triples it makes.  Every limit is a setting (``config.Settings``) and each
default is far above a real record.  A record over a limit is refused with
``RecordLimitExceeded``: 413 for its size, 422 for the rest, in words that name the limit.

Numbers JSON does not have (``NaN``, ``Infinity``, and literals too large for a float) are
refused here too, with the field that holds them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from typing import Any

from ..config import ENV_PREFIX
from ..errors import RecordLimitExceeded, UnreadableRecord


@dataclass(frozen=True)
class RecordLimits:
    """The record limits of ``Settings`` (same names and defaults)."""

    max_record_bytes: int = 262_144
    max_json_depth: int = 32
    max_therapy_lines: int = 50
    max_drugs_per_line: int = 20
    max_findings: int = 100
    max_list_items: int = 20
    max_jsonld_contexts: int = 16
    max_jsonld_context_depth: int = 4
    max_fhir_resources: int = 2000
    max_record_triples: int = 2000

    @classmethod
    def of(cls, settings: Any) -> RecordLimits:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    # -- the checks ----------------------------------------------------------------------

    def check_size(self, size: int) -> None:
        """``size``: the record's length in bytes (UTF-8)."""
        if size > self.max_record_bytes:
            raise RecordLimitExceeded(
                f"The patient record is {size:,} bytes, more than the {self.max_record_bytes:,} bytes this service "
                f"accepts ({_setting('max_record_bytes')}); a complete treatment history takes a few kilobytes.",
                limit="max_record_bytes", maximum=self.max_record_bytes, status=413)

    def check_depth(self, text: str) -> None:
        """How deeply the JSON text nests, found in one pass before it is parsed."""
        depth = json_depth(text, self.max_json_depth)
        if depth > self.max_json_depth:
            raise RecordLimitExceeded(
                f"The record nests objects and lists more than {self.max_json_depth} deep "
                f"({_setting('max_json_depth')}); a patient record needs about 5 levels, a FHIR Bundle about 10.",
                limit="max_json_depth", maximum=self.max_json_depth)

    def load_json(self, text: str) -> Any:
        """The JSON value of a record's text, after the size and depth checks.

        Raises ``json.JSONDecodeError`` for text that is not JSON (the caller words it), and
        ``UnreadableRecord`` for a number JSON does not have or Python will not convert.
        """
        self.check_size(len(text.encode("utf-8", errors="surrogatepass")))
        self.check_depth(text)
        try:
            return json.loads(text, parse_constant=_not_a_number, parse_float=_finite_float)
        except _NotANumber as exc:
            raise UnreadableRecord(_not_a_number_message(text, exc.token)) from None
        except RecursionError:  # only with a depth limit above the interpreter's own
            raise UnreadableRecord("the record is nested too deeply to be read") from None
        except json.JSONDecodeError:
            raise
        except ValueError as exc:  # e.g. an integer with more digits than Python converts
            raise UnreadableRecord(f"the record cannot be read: {str(exc).split(';')[0]}") from None

    def check_record(self, data: dict[str, Any]) -> None:
        """The lists of a plain-JSON record (or of the record a FHIR Bundle stands for)."""
        lines = data.get("therapyLines")
        if isinstance(lines, list):
            self._count(len(lines), "max_therapy_lines", "The record lists {n} lines of therapy",
                        "a real treatment history has fewer than 15")
            for index, line in enumerate(lines, start=1):
                if not isinstance(line, dict):
                    continue
                number = line.get("line") if isinstance(line.get("line"), int) else index
                if isinstance(line.get("drugs"), list):
                    self._count(len(line["drugs"]), "max_drugs_per_line", f"Line {number} lists {{n}} drugs",
                                "a real line of therapy has fewer than 10")
                for key in ("toxicity", "toxicities"):
                    if isinstance(line.get(key), list):
                        self._count(len(line[key]), "max_list_items", f"Line {number} lists {{n}} toxicities",
                                    "a real line names a few")
        if isinstance(data.get("cytogenetics"), list):
            self._count(len(data["cytogenetics"]), "max_findings", "The record lists {n} cytogenetic findings",
                        "a real record has fewer than 30")
        if isinstance(data.get("cardiacHistory"), list):
            self._count(len(data["cardiacHistory"]), "max_list_items", "The record lists {n} heart conditions",
                        "a real record names a few")

    def check_contexts(self, data: Any) -> None:
        """The JSON-LD contexts of a record: how many, and how deeply they nest in one another
        (a context of a node inside a node that has one, or a scoped context in a term)."""
        count = deepest = 0
        stack: list[tuple[Any, int]] = [(data, 0)]
        while stack:
            node, level = stack.pop()
            if isinstance(node, list):
                stack.extend((item, level) for item in node)
            elif isinstance(node, dict):
                for key, value in node.items():
                    if key == "@context":
                        count += len(value) if isinstance(value, list) else 1
                        deepest = max(deepest, level + 1)
                        stack.append((value, level + 1))
                    else:
                        stack.append((value, level))
        self._count(count, "max_jsonld_contexts", "The JSON-LD record holds {n} contexts", "a record needs one")
        if deepest > self.max_jsonld_context_depth:
            raise RecordLimitExceeded(
                f"The JSON-LD record nests contexts {deepest} deep, more than the {self.max_jsonld_context_depth} "
                f"this service accepts ({_setting('max_jsonld_context_depth')}); a record needs one level.",
                limit="max_jsonld_context_depth", maximum=self.max_jsonld_context_depth)

    def check_bundle(self, bundle: dict[str, Any]) -> None:
        """The resources of a FHIR Bundle, counting those of the Bundles inside it."""
        count = 0
        stack = [bundle]
        while stack:
            entries = stack.pop().get("entry")
            if not isinstance(entries, list):
                continue
            count += len(entries)
            for entry in entries:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
                    stack.append(resource)
        self._count(count, "max_fhir_resources", "The FHIR Bundle holds {n} resources",
                    "a patient's prefetch holds a few hundred at most")

    def check_triples(self, count: int, *, more: bool = False) -> None:
        """``count`` triples made (``more``: the reading stopped there, and there are more)."""
        if count > self.max_record_triples:
            found = f"more than {self.max_record_triples:,}" if more else f"{count:,}"
            raise RecordLimitExceeded(
                f"The record makes {found} statements (RDF triples: its facts, lines, drugs and findings), more than "
                f"the {self.max_record_triples:,} this service accepts ({_setting('max_record_triples')}); "
                "a long real treatment history makes fewer than 800.",
                limit="max_record_triples", maximum=self.max_record_triples)

    def _count(self, n: int, limit: str, what: str, usual: str) -> None:
        maximum = getattr(self, limit)
        if n > maximum:
            raise RecordLimitExceeded(
                f"{what.format(n=f'{n:,}')}, more than the {maximum:,} this service accepts ({_setting(limit)}); {usual}.",
                limit=limit, maximum=maximum)


def _setting(name: str) -> str:
    return ENV_PREFIX + name.upper()


# -- one pass over JSON text ---------------------------------------------------------------

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str, stop_after: int | None = None) -> int:
    """How deeply objects and arrays nest in JSON text, strings aside, in one pass over it;
    counting stops once the depth passes ``stop_after``.  Text that is not JSON gets a number
    too (an unclosed string counts its brackets), which is all a limit needs."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    break
        else:
            depth -= 1
    return deepest


class _NotANumber(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _not_a_number(token: str):
    raise _NotANumber(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _NotANumber(token)
    return value


def _not_a_number_message(text: str, token: str) -> str:
    where = re.search(r'"((?:[^"\\]|\\.){1,80})"\s*:\s*' + re.escape(token) + r"(?![\w.])", text)
    field = f"'{where.group(1)}' is {token}" if where else f"the record holds {token}"
    if token in ("NaN", "Infinity", "-Infinity"):
        return f"{field}, which is not a number in JSON: give the value as a number, or leave the field out"
    return f"{field}, a number too large to be read: give the value as a number, or leave the field out"


__all__ = ["RecordLimits", "json_depth"]

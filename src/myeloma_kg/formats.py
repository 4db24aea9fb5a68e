"""The RDF and query-result formats the program reads and writes, in one table each: a name for the
command line, a file extension, a media type for HTTP, and pyoxigraph's format."""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox


@dataclass(frozen=True)
class RdfFormat:
    name: str  # as the command line spells it (--format)
    extension: str
    media_type: str
    label: str  # as a page shows it
    oxigraph: ox.RdfFormat
    datasets: bool = False  # holds named graphs (TriG, N-Quads), not only triples


RDF_FORMATS: dict[str, RdfFormat] = {f.name: f for f in (
    # the order of the triple formats is the order content negotiation prefers them in
    RdfFormat("turtle", "ttl", "text/turtle", "Turtle", ox.RdfFormat.TURTLE),
    RdfFormat("jsonld", "jsonld", "application/ld+json", "JSON-LD", ox.RdfFormat.JSON_LD),
    RdfFormat("xml", "rdf", "application/rdf+xml", "RDF/XML", ox.RdfFormat.RDF_XML),
    RdfFormat("nt", "nt", "application/n-triples", "N-Triples", ox.RdfFormat.N_TRIPLES),
    RdfFormat("trig", "trig", "application/trig", "TriG (named graphs)", ox.RdfFormat.TRIG, datasets=True),
    RdfFormat("nquads", "nq", "application/n-quads", "N-Quads (named graphs)", ox.RdfFormat.N_QUADS, datasets=True),
)}
TRIPLE_FORMATS = {name: f for name, f in RDF_FORMATS.items() if not f.datasets}
BY_EXTENSION = {f.extension: f for f in RDF_FORMATS.values()}
BY_MEDIA_TYPE = {f.media_type: f for f in RDF_FORMATS.values()}
TURTLE_MEDIA_TYPES = ("text/turtle", "application/x-turtle")
TURTLE_SUFFIXES = (".ttl", ".turtle")


@dataclass(frozen=True)
class ResultFormat:
    name: str
    media_type: str
    oxigraph: ox.QueryResultsFormat


RESULT_FORMATS: dict[str, ResultFormat] = {f.name: f for f in (
    ResultFormat("json", "application/sparql-results+json", ox.QueryResultsFormat.JSON),
    ResultFormat("xml", "application/sparql-results+xml", ox.QueryResultsFormat.XML),
    ResultFormat("csv", "text/csv", ox.QueryResultsFormat.CSV),
    ResultFormat("tsv", "text/tab-separated-values", ox.QueryResultsFormat.TSV),
)}
RESULT_BY_MEDIA_TYPE = {f.media_type: f for f in RESULT_FORMATS.values()}

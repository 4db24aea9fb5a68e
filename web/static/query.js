// The SPARQL editor page: YASGUI pointed at this server's endpoint, with the project's prefixes
// and the named queries of queries/ as ready examples.
//
// Nothing here, nor in YASGUI as configured here, sends a request to another site: the term
// completers ask this server's /sparql for the graph's properties and classes (YASGUI's own ask
// lov.linkeddata.es), the prefix completer offers the project's prefixes only (not YASGUI's bundled
// list), and result IRIs under the graph's base open the pages of this server.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("query-data").textContent);
  var element = document.getElementById("yasgui");
  var endpoint = element.getAttribute("data-endpoint");
  var Yasqe = Yasgui.Yasqe;
  var declarations = Object.keys(data.prefixes).map(function (p) { return p + ": <" + data.prefixes[p] + ">"; });
  var noStorage = function () { return undefined; };  // completions are not kept in the browser's storage

  // -- completion from this server -----------------------------------------------------------
  var TERM_QUERIES = {
    property: "SELECT DISTINCT ?term WHERE { { ?s ?term ?o } UNION { ?term a owl:ObjectProperty } " +
      "UNION { ?term a owl:DatatypeProperty } UNION { ?term a owl:AnnotationProperty } } ORDER BY ?term",
    "class": "SELECT DISTINCT ?term WHERE { { ?term a owl:Class } UNION { ?s a ?term } FILTER(isIRI(?term)) } ORDER BY ?term"
  };
  var terms = {};  // kind -> promise of the IRIs, asked for once

  function localTerms(kind) {
    if (!terms[kind]) {
      var body = new URLSearchParams();
      body.append("query", "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n" + TERM_QUERIES[kind]);
      terms[kind] = fetch(endpoint, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/sparql-results+json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("the endpoint answered " + response.status); }
        return response.json();
      }).then(function (json) {
        return json.results.bindings.map(function (b) { return b.term.value; });
      }).catch(function (error) {
        delete terms[kind];  // ask again next time
        throw error;
      });
    }
    return terms[kind];
  }

  function completeFrom(kind) {
    return function (yasqe, token) {
      var wanted = token && (token.autocompletionString || token.string || "").trim();
      if (!wanted) { return Promise.resolve([]); }
      return localTerms(kind).then(function (iris) {
        return iris.filter(function (iri) { return iri.indexOf(wanted) === 0; }).slice(0, 100);
      }, function () {
        yasqe.showNotification("autocomplete_" + kind, "Could not read the terms from " + endpoint);
        return [];
      });
    };
  }

  Yasqe.Autocompleters.property.get = completeFrom("property");
  Yasqe.Autocompleters["class"].get = completeFrom("class");
  Yasqe.Autocompleters.prefixes.get = declarations;
  Yasqe.Autocompleters.prefixes.persistenceId = noStorage;

  var yasgui = new Yasgui(element, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: false,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
    persistenceId: null
  });
  var prefixes = declarations.map(function (d) { return "PREFIX " + d; }).join("\n");
  var tab = yasgui.getTab();
  if (!tab.getQuery() || tab.getQuery().indexOf("mkg:") < 0) {
    tab.setQuery(prefixes + "\n\nSELECT ?regimen ?label WHERE {\n  ?regimen a mkg:AntiCD38Regimen ; rdfs:label ?label .\n}\nORDER BY ?label");
  }

  // -- result IRIs open this server's pages --------------------------------------------------
  var base = data.base;
  function localHref(iri) {
    if (iri.indexOf(base) !== 0) { return null; }
    var rest = iri.slice(base.length);
    if (rest.indexOf("ontology#") === 0) { return "/ontology#" + rest.slice("ontology#".length); }
    return "/" + rest;
  }
  function relink(root) {
    root.querySelectorAll("a[href^='" + base + "']").forEach(function (a) {
      var href = localHref(a.getAttribute("href"));
      if (href) {
        a.setAttribute("href", href);
        a.setAttribute("rel", "noopener");
      }
    });
  }
  new MutationObserver(function () { relink(element); }).observe(element, { childList: true, subtree: true });

  // -- the ready-made queries ----------------------------------------------------------------
  var select = document.getElementById("examples");
  var summary = document.getElementById("example-summary");
  function load(name) {
    var text = data.queries[name];
    if (!text) { return; }
    var option = select.querySelector("option[value='" + name + "']");
    summary.textContent = option ? option.getAttribute("data-summary") : "";
    yasgui.getTab().setQuery(text);
    yasgui.getTab().query();
  }
  select.addEventListener("change", function () { load(select.value); });
  document.getElementById("run-example").addEventListener("click", function () { load(select.value); });
})();

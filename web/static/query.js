// The SPARQL editor page: YASGUI pointed at this server's endpoint, with the project's prefixes
// and the named queries of queries/ as ready examples.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("query-data").textContent);
  var element = document.getElementById("yasgui");
  var yasgui = new Yasgui(element, {
    requestConfig: { endpoint: element.getAttribute("data-endpoint"), method: "POST" },
    copyEndpointOnNewTab: false,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: element.getAttribute("data-endpoint") }]; } },
    persistenceId: null
  });
  var prefixes = Object.keys(data.prefixes).map(function (p) {
    return "PREFIX " + p + ": <" + data.prefixes[p] + ">";
  }).join("\n");
  var tab = yasgui.getTab();
  if (!tab.getQuery() || tab.getQuery().indexOf("mkg:") < 0) {
    tab.setQuery(prefixes + "\n\nSELECT ?regimen ?label WHERE {\n  ?regimen a mkg:AntiCD38Regimen ; rdfs:label ?label .\n}\nORDER BY ?label");
  }
  document.querySelectorAll("button.example").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = data.queries[button.getAttribute("data-name")];
      yasgui.getTab().setQuery(text);
      yasgui.getTab().query();
    });
  });
})();

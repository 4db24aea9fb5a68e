// The patient page: a click on an example record fills the form with it and its as-of date.
(function () {
  "use strict";
  var record = document.getElementById("record");
  var asOf = document.getElementById("as_of");
  document.querySelectorAll("a.example-record").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      fetch(link.getAttribute("href"), { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("the example could not be read"); }
          return response.text();
        })
        .then(function (text) {
          record.value = text;
          if (link.getAttribute("data-as-of")) { asOf.value = link.getAttribute("data-as-of"); }
          record.dataset.example = link.textContent;
          record.focus();
        })
        .catch(function (error) { record.value = ""; record.placeholder = String(error.message || error); });
    });
  });
})();

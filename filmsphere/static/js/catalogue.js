/* FilmSphere catalogue enhancements; the film search works without this file. */
(function () {
  "use strict";

  // Leave unused filters out of the request, so the pushed URL stays short and shareable
  // (/movies?q=storm rather than /movies?q=storm&language=&rating=&date=).
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "movie-filters") { return; }
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (name) {
      if (params[name] === "") { delete params[name]; }
    });
  });

  // Announce the new result count. The results region is replaced on every search, and a
  // freshly inserted live region is often not read out, so the summary is copied into a
  // live region that stays put.
  document.addEventListener("htmx:afterSettle", function () {
    var status = document.getElementById("movie-results-status");
    var summary = document.querySelector("#movie-results [data-result-summary]");
    if (status && summary) {
      status.textContent = summary.textContent.replace(/\s+/g, " ").trim();
    }
  });
})();

/* FilmSphere: small progressive enhancements. Everything works without this file. */
(function () {
  "use strict";
  // Keep the CSRF token on every htmx request, even ones built outside a form.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
  });
})();

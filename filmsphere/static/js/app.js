/* FilmSphere: small progressive enhancements. Everything works without this file. */
(function () {
  "use strict";
  // Keep the CSRF token on every htmx request, even ones built outside a form.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
  });
  // A table bigger than its box scrolls inside .table-wrap: keyboard users must be able to
  // focus that region to scroll it, and screen readers need to know what it is.
  function focusableScrollers() {
    var wraps = document.querySelectorAll(".table-wrap");
    for (var i = 0; i < wraps.length; i++) {
      var wrap = wraps[i];
      var scrolls = wrap.scrollWidth > wrap.clientWidth + 1 ||
        wrap.scrollHeight > wrap.clientHeight + 1;
      if (scrolls && !wrap.hasAttribute("tabindex")) {
        wrap.tabIndex = 0;
        wrap.setAttribute("data-scroll-focus", "");
        if (!wrap.hasAttribute("role")) { wrap.setAttribute("role", "region"); }
        if (!wrap.hasAttribute("aria-label") && !wrap.hasAttribute("aria-labelledby")) {
          // Named after its caption or its section's heading, but not identically to the
          // section: two landmarks with one name are ambiguous.
          var caption = wrap.querySelector("caption");
          var section = wrap.closest("[aria-labelledby]");
          var heading = section && document.getElementById(section.getAttribute("aria-labelledby"));
          var name = caption ? caption.textContent : heading ? heading.textContent : "";
          wrap.setAttribute("aria-label", (name.trim() + " table").trim());
        }
      } else if (!scrolls && wrap.hasAttribute("data-scroll-focus")) {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("data-scroll-focus");
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusableScrollers);
  } else { focusableScrollers(); }
  window.addEventListener("load", focusableScrollers);
  window.addEventListener("resize", focusableScrollers);
  document.addEventListener("htmx:afterSettle", focusableScrollers);

  // A button disabled until a given time (the wallet's refill): enable it when it comes.
  // The server still decides; a fast client clock only means its refusal is shown.
  function enableWhenDue(root) {
    (root || document).querySelectorAll("button[data-enable-at]").forEach(function (button) {
      var wait = Date.parse(button.getAttribute("data-enable-at")) - Date.now();
      window.setTimeout(function () { button.disabled = false; }, Math.max(0, wait));
    });
  }
  document.addEventListener("htmx:load", function (event) { enableWhenDue(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enableWhenDue(); });
  } else {
    enableWhenDue();
  }

  // The cancel form: "Whole booking" and single tickets exclude each other, so the ticks
  // always show what would be cancelled. Capturing runs this before htmx asks for the quote.
  document.addEventListener("change", function (event) {
    var box = event.target;
    var form = box.form;
    if (!form || form.id !== "cancel-form" || box.type !== "checkbox" || !box.checked) { return; }
    if (box.name === "whole") {
      form.querySelectorAll('input[name="tickets"]').forEach(function (ticket) { ticket.checked = false; });
    } else if (box.name === "tickets" && form.elements.whole) {
      form.elements.whole.checked = false;
    }
  }, true);

  // While the database is away htmx requests get a 503 notice (out of band, into the
  // flash region); the first answer after that which isn't a server error takes it away.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status === 0 || xhr.status >= 500) { return; }
    document.querySelectorAll("[data-service-notice]").forEach(function (notice) {
      notice.remove();
    });
  });

  // Tickets saved for offline use belong to this account: forget them before logging out
  // (the service worker also drops them when it sees the logout request).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-logout]") || !("caches" in window)) { return; }
    event.preventDefault();
    var sent = false;
    function send() { if (!sent) { sent = true; form.submit(); } }
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "LOGOUT" });
    }
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("filmsphere-tickets") === 0;
      }).map(function (name) { return caches.delete(name); }));
    }).then(send, send);
    window.setTimeout(send, 2000);
  });
})();

/* FilmSphere: registers the service worker (/sw.js) and offers a reload when a new version
   of the app is waiting. Without this file the site works the same, just not offline. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) { return; }

  var notice = null;

  // The live region exists (empty) before its text arrives, so screen readers announce it.
  function region() {
    if (!notice) {
      notice = document.createElement("div");
      notice.id = "update-notice";
      notice.className = "update-notice";
      notice.setAttribute("role", "status");
      document.body.appendChild(notice);
    }
    return notice;
  }

  function offerReload(worker) {
    var box = region();
    if (box.firstChild) { return; }
    var text = document.createElement("span");
    text.textContent = "New version available.";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-small";
    button.textContent = "Reload";
    button.addEventListener("click", function () {
      button.disabled = true;
      var reloaded = false;
      navigator.serviceWorker.addEventListener("controllerchange", function () {
        if (!reloaded) { reloaded = true; window.location.reload(); }
      });
      worker.postMessage({ type: "SKIP_WAITING" });
    });
    box.appendChild(text);
    box.appendChild(document.createTextNode(" "));
    box.appendChild(button);
  }

  function watch(registration) {
    region();
    // A new worker only waits when an older one controls this page: that is an update.
    if (registration.waiting && navigator.serviceWorker.controller) {
      offerReload(registration.waiting);
    }
    registration.addEventListener("updatefound", function () {
      var installing = registration.installing;
      if (!installing) { return; }
      installing.addEventListener("statechange", function () {
        if (installing.state === "installed" && navigator.serviceWorker.controller) {
          offerReload(installing);
        }
      });
    });
  }

  function register() {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(watch, function () {
      // No worker (private mode, blocked storage): the site still works online.
    });
  }

  if (document.readyState === "complete") { register(); } else { window.addEventListener("load", register); }
})();

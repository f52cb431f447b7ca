// Draws /api/docs from the OpenAPI document (Swagger UI, read only: no "Try it out",
// since the API takes bearer tokens that a docs page should not collect).
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  // The page's own heading and text say what the info block would (a second h1 else).
  function nothing() {
    return null;
  }
  // Swagger UI draws an array parameter's example as an unlabelled (disabled) textarea:
  // name it after its parameter so screen readers can tell what it holds.
  new MutationObserver(function () {
    root.querySelectorAll("textarea:not([aria-label])").forEach(function (box) {
      var row = box.closest("tr[data-param-name]");
      var name = row ? row.getAttribute("data-param-name") : "request body";
      box.setAttribute("aria-label", "Example value of " + name);
    });
  }).observe(root, { childList: true, subtree: true });
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: false,
    supportedSubmitMethods: [],
    defaultModelsExpandDepth: -1,
    syntaxHighlight: false,
    plugins: [
      function () {
        return { components: { InfoContainer: nothing } };
      },
    ],
  });
});

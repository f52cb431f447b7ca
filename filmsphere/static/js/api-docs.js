// Draws /api/docs from the OpenAPI document (Swagger UI, read only: no "Try it out",
// since the API takes bearer tokens that a docs page should not collect).
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  // The page's own heading and text say what the info block would (a second h1 else).
  function nothing() {
    return null;
  }
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

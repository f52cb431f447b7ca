// Draws /api/docs from the OpenAPI document (Swagger UI, read only: no "Try it out",
// since the API takes bearer tokens that a docs page should not collect).
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: false,
    supportedSubmitMethods: [],
    defaultModelsExpandDepth: 0,
    syntaxHighlight: false,
  });
});

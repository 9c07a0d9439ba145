// Starts Swagger UI on /docs. Its settings come from the page's data- attributes, so the page
// has no inline script and the docs' Content-Security-Policy allows scripts from 'self' only.
"use strict";
(function () {
  var holder = document.getElementById("swagger-ui");
  SwaggerUIBundle({
    url: holder.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    deepLinking: true,
    // x-access on each operation says who may call it (README "Need to know").
    showExtensions: true,
    showCommonExtensions: true,
    // Swagger UI's default sends the schema's address to an outside validator service.
    validatorUrl: null,
    oauth2RedirectUrl: new URL(holder.dataset.oauth2RedirectUrl, window.location.href).href,
  });
})();

// Starts ReDoc on /redoc, from the page's data- attributes (no inline script: see swagger-init.js).
"use strict";
(function () {
  var holder = document.getElementById("redoc");
  Redoc.init(holder.dataset.openapiUrl, {}, holder);
})();

// Progressive enhancement for the screens. Every page works without this file.
import { initAll } from "/static/nhsuk/nhsuk-frontend-10.6.1.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();

// /docs/oauth2-redirect: the window Swagger UI opens for an OAuth2 sign-in lands here. Before
// opening it, Swagger UI leaves `swaggerUIRedirectOauth2` on the /docs window:
//   {auth, state, redirectUrl, callback(result), errCb(error)}
// This script hands the authorisation server's answer back through it and closes the window.
"use strict";
(function () {
  var status = document.getElementById("status");
  var pending = window.opener && window.opener.swaggerUIRedirectOauth2;
  if (!pending) {
    status.textContent = "No sign-in is waiting for this answer: open the API documentation.";
    return;
  }
  var auth = pending.auth;
  var flow = auth.schema.get("flow");
  // The implicit flow answers in the fragment, the code flows in the query string.
  var fragment = window.location.hash.slice(1);
  var raw = /(^|&)(code|access_token|error)=/.test(fragment)
    ? fragment
    : window.location.search.slice(1);
  var answer = Object.fromEntries(new URLSearchParams(raw));
  var stateMatches = answer.state === pending.state;
  var codeFlow = ["accessCode", "authorizationCode", "authorization_code"].indexOf(flow) !== -1;

  if (codeFlow && !auth.code) {
    if (!stateMatches) {
      // The state ties the answer to the request this window made; without it the code may be
      // someone else's (cross-site request forgery), so it is not used.
      pending.errCb({
        authId: auth.name,
        source: "auth",
        level: "error",
        message: "The authorisation server did not send back the state of this sign-in; " +
          "its answer was not used.",
      });
    } else if (answer.code) {
      delete pending.state;
      auth.code = answer.code;
      pending.callback({ auth: auth, redirectUrl: pending.redirectUrl });
    } else {
      pending.errCb({
        authId: auth.name,
        source: "auth",
        level: "error",
        message: "The authorisation server sent no code" +
          (answer.error ? ": " + answer.error + (answer.error_description ?
            " (" + answer.error_description + ")" : "") : "."),
      });
    }
  } else {
    pending.callback({
      auth: auth,
      token: answer,
      isValid: stateMatches,
      redirectUrl: pending.redirectUrl,
    });
  }
  window.close();
})();

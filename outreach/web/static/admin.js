/* The sales admin's pages: say at once that a chosen file is too large, before it is sent (the server refuses
   it anyway). No inline script: the page's CSP allows only this file, with the page's nonce. */
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) { return; }
  var input = document.getElementById("file");
  var warning = document.getElementById("file-too-big");
  var limit = parseInt(form.getAttribute("data-limit"), 10);
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    var tooBig = !!file && file.size > limit;
    warning.hidden = !tooBig;
    input.setCustomValidity(tooBig ? warning.textContent : "");
    if (tooBig) { input.reportValidity(); }
  });
})();

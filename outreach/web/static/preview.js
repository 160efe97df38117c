/* The writer's preview page: reload when a watched file is saved, switch on select, load the lint findings.
   The page's one script (loaded with the page's CSP nonce); it runs nothing from the message. */
(function () {
  var root = document.getElementById("preview");
  if (!root) { return; }
  var version = root.getAttribute("data-version");
  var versionUrl = root.getAttribute("data-version-url");
  document.querySelectorAll("#toolbar select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var lint = document.getElementById("lint");
  if (lint && lint.getAttribute("data-src")) {
    fetch(lint.getAttribute("data-src"), {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { lint.innerHTML = html; blockTestSend(); },
            function () { lint.textContent = "The lint findings could not be loaded."; });
  }
  function blockTestSend() {  /* content with errors is not sent, not even to the writer (the server refuses too) */
    var found = lint.querySelector("[data-errors]");
    var button = document.querySelector("#test-send button[type=submit]");
    if (!found || !button || Number(found.getAttribute("data-errors")) === 0) { return; }
    button.disabled = true;
    var note = document.getElementById("test-send-blocked");
    if (note) { note.hidden = false; }
  }
  function poll() {
    fetch(versionUrl, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (text) {
        if (text.trim() !== version) { location.reload(); } else { setTimeout(poll, 1000); }
      }, function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})();

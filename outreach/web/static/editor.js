/* The writer's editor: live preview and lint while typing, findings that move the caret, pictures inserted at the
   caret, Ctrl+S to save. Loaded with the page's CSP nonce; it never runs anything from the message, which is only
   ever put into the sandboxed iframe's srcdoc. Without it the page still works: preview and lint of the saved
   file, Save, upload. */
(function () {
  "use strict";
  var page = document.getElementById("editor-page");
  var form = document.getElementById("editor");
  var source = document.getElementById("source");
  if (!page || !form || !source) { return; }
  var status = document.getElementById("status");
  var frame = document.getElementById("message");
  var lint = document.getElementById("lint");
  var DEBOUNCE = 400;  /* ms after the last keystroke */
  var timer = null, running = false, again = false, serial = 0, saved = source.value;

  function say(text) { if (status) { status.textContent = text; } }
  function text(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value || ""; } }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE);
  }

  function refresh() {
    if (running) { again = true; return; }  /* one request at a time; the newest text goes next */
    running = true;
    var mine = ++serial, sent = source.value;
    var body = new FormData(form);
    say("Checking…");
    fetch(page.getAttribute("data-preview-url"), {method: "POST", body: body, credentials: "same-origin",
                                                  headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { throw new Error("Your session has ended: reload the page (your text stays in this tab until then)."); }
        return r.json();
      })
      .then(function (data) { if (mine === serial) { show(data, sent); } })
      .catch(function (e) { say(e && e.message ? e.message : "The preview could not be refreshed."); })
      .then(function () {
        running = false;
        if (again) { again = false; refresh(); }
      });
  }

  function show(data, sent) {
    if (data.source !== null && data.source !== undefined && source.value === sent) {
      var at = source.selectionStart;
      source.value = data.source;  /* a field was written into the front matter */
      source.setSelectionRange(at, at);
    }
    if (data.fields) { syncFields(data.fields); }
    if (frame) { frame.srcdoc = data.html || ""; }
    text("pv-subject", data.subject);
    text("pv-preheader", data.preheader);
    text("pv-to", data.to);
    text("pv-size", data.size);
    var error = document.getElementById("pv-error");
    if (error) { error.textContent = data.error || ""; error.hidden = !data.error; }
    findings(data);
    blockTestSend(data.errors || 0);
    say(source.value === saved ? "Checked." : "Checked; not saved yet.");
  }

  function syncFields(fields) {
    ["subject", "preheader", "variants"].forEach(function (key) {
      var input = form.elements.namedItem(key), was = form.elements.namedItem(key + "_was");
      if (!input || !was || fields[key] === undefined) { return; }
      if (document.activeElement !== input) { input.value = fields[key]; }
      if (document.activeElement !== input || input.value === fields[key]) { was.value = fields[key]; }
    });
  }

  function findings(data) {
    if (!lint) { return; }
    var summary = document.getElementById("lint-summary");
    if (summary) { summary.textContent = data.summary || ""; summary.setAttribute("data-errors", String(data.errors || 0)); }
    text("lint-checked", data.checked);
    var list = document.getElementById("findings");
    if (!list) { return; }
    list.textContent = "";
    (data.findings || []).forEach(function (f) {
      var li = document.createElement("li"), level = document.createElement("span");
      level.className = "level-" + f.level;
      level.textContent = f.level;
      li.appendChild(level);
      li.appendChild(document.createTextNode(" "));
      var where = f.file + (f.line ? ":" + f.line : "");
      if (f.here && f.line) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "goto";
        button.setAttribute("data-line", String(f.line));
        button.textContent = "line " + f.line;
        li.appendChild(button);
      } else if (f.url) {
        var link = document.createElement("a");
        link.href = f.url;
        link.textContent = where;
        li.appendChild(link);
      } else {
        var code = document.createElement("code");
        code.textContent = where;
        li.appendChild(code);
      }
      var message = document.createElement("span");
      message.className = "message";
      message.textContent = " " + f.message;
      li.appendChild(message);
      list.appendChild(li);
    });
  }

  function goToLine(line) {  /* the caret at the start of ``line`` (1-based), scrolled into view, focused */
    var lines = source.value.split("\n"), offset = 0;
    for (var i = 0; i < Math.min(line - 1, lines.length); i++) { offset += lines[i].length + 1; }
    source.focus();
    source.setSelectionRange(offset, offset);
    var height = parseFloat(getComputedStyle(source).lineHeight) || 20;
    source.scrollTop = Math.max(0, (line - 3) * height);
  }

  function blockTestSend(errors) {  /* the server refuses too; this only says it before the click */
    var button = document.getElementById("test-send-button"), note = document.getElementById("test-send-blocked");
    if (button) { button.disabled = errors > 0; }
    if (note) { note.hidden = errors === 0; }
  }

  lint && lint.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("button.goto") : null;
    if (target) { goToLine(Number(target.getAttribute("data-line"))); }
  });
  source.addEventListener("input", schedule);
  ["subject", "preheader", "variants"].forEach(function (key) {
    var input = form.elements.namedItem(key);
    if (input) { input.addEventListener("input", schedule); }
  });
  var contact = document.getElementById("contact");
  if (contact) { contact.addEventListener("change", refresh); }
  form.addEventListener("submit", function () { saved = source.value; say("Saving…"); });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    }
  });

  /* pictures: checked for size here first (the server refuses too, without reading past the limit) */
  var pictureForm = document.getElementById("picture-form"), picture = document.getElementById("picture");
  var pictureStatus = document.getElementById("picture-status");
  var maxImage = Number(page.getAttribute("data-max-image")) || 5242880;
  var caret = {start: source.value.length, end: source.value.length};
  source.addEventListener("blur", function () { caret = {start: source.selectionStart, end: source.selectionEnd}; });
  if (pictureForm && picture) {
    pictureForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = picture.files && picture.files[0];
      if (!file) { pictureStatus.textContent = "Choose a picture first."; return; }
      if (file.size > maxImage) {
        pictureStatus.textContent = "Not uploaded: " + file.name + " is " + (file.size / 1048576).toFixed(1) +
          " MB; at most " + Math.round(maxImage / 1048576) + " MB. Make it smaller first.";
        return;
      }
      pictureStatus.textContent = "Uploading " + file.name + "…";
      fetch(page.getAttribute("data-image-url"), {method: "POST", body: new FormData(pictureForm),
                                                 credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.error) { pictureStatus.textContent = data.error; return; }
          var markdown = data.markdown;
          var before = source.value.slice(0, caret.start), needsBreak = before && !/\n\n$/.test(before);
          var insert = (needsBreak ? (/\n$/.test(before) ? "\n" : "\n\n") : "") + markdown + "\n";
          source.focus();
          source.setRangeText(insert, caret.start, caret.end, "end");
          caret = {start: source.selectionStart, end: source.selectionEnd};
          pictureStatus.textContent = "Inserted " + markdown + " (" + data.width + "×" + data.height + "); save to keep it.";
          picture.value = "";
          schedule();
        }, function () { pictureStatus.textContent = "The upload failed; try again."; });
    });
  }
})();

// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // Move focus to the error summary so screen reader users hear the problems first.
  var summary = document.querySelector("[data-module=error-summary]");
  if (summary) { summary.focus(); }

  // Filter long choice lists (e.g. the activity catalogue) while typing.
  document.querySelectorAll("[data-filter-for]").forEach(function (box) {
    var list = document.getElementById(box.getAttribute("data-filter-for"));
    var input = box.querySelector("input");
    var count = box.querySelector(".filter-count");
    if (!list || !input) { return; }
    box.hidden = false;
    var items = Array.prototype.slice.call(list.querySelectorAll(".choice"));
    input.addEventListener("input", function () {
      // Folded like the server's search text (rathaus_engine::catalogue::fold).
      var folded = input.value.toLowerCase().replace(/ä/g, "ae").replace(/ö/g, "oe").replace(/ü/g, "ue").replace(/ß/g, "ss");
      var words = folded.split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (item) {
        var hay = item.getAttribute("data-search") || "";
        var checked = item.querySelector("input").checked;
        var match = checked || words.every(function (w) { return hay.indexOf(w) !== -1; });
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      if (count) { count.textContent = shown + " / " + items.length; }
    });
  });

  // Prevent double submission of a form (e.g. a second click on "send").
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (form.getAttribute("data-submitted") === "1" && !ev.submitter) { ev.preventDefault(); return; }
      form.setAttribute("data-submitted", "1");
    });
  });

  // Live validation: when a field is left, the page is checked on the server (the same rules
  // as on "continue") and the errors of the fields already visited are shown in place.
  var live = document.querySelector("form[data-live]");
  if (live && window.fetch && window.FormData && window.URLSearchParams) {
    var visited = {};
    var status = live.querySelector("[data-live-status]");
    // The innermost group: an address part has its own, a date's three inputs share one.
    var groupOf = function (el) { return el.closest(".form-group"); };
    var show = function (errors, changed) {
      var byGroup = new Map();
      errors.forEach(function (e) {
        var input = document.getElementById(e.anchor);
        var group = input && groupOf(input);
        if (group && !byGroup.has(group)) { byGroup.set(group, e.message); }
      });
      var said = "";
      Object.keys(visited).forEach(function (name) {
        live.querySelectorAll("[name='" + name.replace(/'/g, "\\'") + "']").forEach(function (input) {
          var group = groupOf(input);
          if (!group) { return; }
          var message = byGroup.get(group);
          var shown = group.querySelector(":scope > .error-message, :scope > fieldset > .error-message");
          if (message) {
            if (!shown) {
              shown = document.createElement("p");
              shown.className = "error-message";
              shown.id = input.id + "-live-error";
              var label = group.querySelector(":scope > label, :scope > fieldset > legend");
              (label || group.firstChild).insertAdjacentElement(label ? "afterend" : "beforebegin", shown);
            }
            if (shown.textContent !== message) { shown.textContent = message; }
            group.classList.add("has-error");
            input.setAttribute("aria-invalid", "true");
            input.setAttribute("aria-describedby", shown.id);
            if (name === changed) { said = message; }
          } else {
            if (shown) { shown.remove(); }
            group.classList.remove("has-error");
            input.removeAttribute("aria-invalid");
          }
        });
      });
      if (status) { status.textContent = said; }
    };
    live.addEventListener("change", function (ev) {
      if (!ev.target.name || ev.target.name.charAt(0) === "_" || ev.target.type === "file") { return; }
      visited[ev.target.name] = true;
      // The answers only: chosen files are uploaded with the page, not with every check.
      var answers = new URLSearchParams();
      new FormData(live).forEach(function (value, name) {
        if (typeof value === "string") { answers.append(name, value); }
      });
      fetch(live.getAttribute("data-live"), {
        method: "POST",
        body: answers,
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (res) {
          if (!res) { return; }
          show(res.errors, ev.target.name);
          // The assistant's outlook on the new answers; replaced only when it changed, so
          // that the live region announces news, not every answer.
          var assistant = document.querySelector("[data-assistant]");
          if (assistant && typeof res.assistant === "string" && assistant.innerHTML.trim() !== res.assistant) {
            assistant.innerHTML = res.assistant;
            assistant.hidden = res.assistant === "";
          }
        })
        .catch(function () { /* offline: the page still validates on "continue" */ });
    });
  }
})();

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
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
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
})();

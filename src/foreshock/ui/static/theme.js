// Theme: the saved choice, else the system's; set before first paint (this runs in <head>).
(function () {
  "use strict";
  var saved = null;
  try { saved = localStorage.getItem("foreshock-theme"); } catch (e) { /* storage off */ }
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = saved || (dark ? "dark" : "light");
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    button.addEventListener("click", function () {
      var next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      try { localStorage.setItem("foreshock-theme", next); } catch (e) { /* storage off */ }
      document.dispatchEvent(new CustomEvent("foreshock:theme", { detail: next }));
    });
  });
})();

// Shared by the pages' scripts.
window.foreshock = {
  css: function (name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  },
  getJSON: function (url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error(url + ": HTTP " + r.status);
        return r.json();
      });
  },
  entityUrl: function (id) {
    return "/ui/entities/" + id.split("/").map(encodeURIComponent).join("/");
  },
};

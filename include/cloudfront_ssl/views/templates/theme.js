// Follow Airflow's colour mode. Airflow's UI keeps it as the class "dark" or "light" on its <html>
// and in localStorage under "theme" ("light", "dark" or "system"); the page is shown in Airflow's
// frame (same origin), or on its own, where the system's preference decides.
(function () {
  var html = document.documentElement;
  function parentMode() {
    try {
      if (window.parent !== window) {
        var classes = window.parent.document.documentElement.classList;
        if (classes.contains("dark")) return "dark";
        if (classes.contains("light")) return "light";
      }
    } catch (error) { /* another origin: fall through */ }
    return null;
  }
  function mode() {
    var chosen = parentMode();
    if (chosen) return chosen;
    var stored = null;
    try { stored = window.localStorage.getItem("theme"); } catch (error) { /* storage disabled */ }
    if (stored === "dark" || stored === "light") return stored;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function apply() { html.setAttribute("data-theme", mode()); }
  apply();
  window.addEventListener("storage", function (event) { if (event.key === "theme") apply(); });
  if (window.matchMedia) {
    var query = window.matchMedia("(prefers-color-scheme: dark)");
    if (query.addEventListener) query.addEventListener("change", apply);
  }
  try {
    if (window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement,
        {attributes: true, attributeFilter: ["class"]});
    }
  } catch (error) { /* another origin */ }
})();

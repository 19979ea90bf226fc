// Behaviour shared by every page: sortable columns and copy buttons. No framework, no build step.
(function () {
  // Sorting: a click (or Enter) on a th[data-sort] sorts its table's body rows by that column, then
  // the other way round. A cell's data-value, when present, is sorted instead of its text.
  function cellValue(row, index, kind) {
    var cell = row.children[index];
    if (!cell) return "";
    var text = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (kind === "number") { var n = parseFloat(text); return isNaN(n) ? -Infinity : n; }
    return text.toLowerCase();
  }
  function sortBy(header) {
    var table = header.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var kind = header.getAttribute("data-sort");
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th[data-sort]").forEach(function (th) { th.setAttribute("aria-sort", "none"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.filter.call(body.rows, function (row) { return !row.classList.contains("empty"); });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, kind), y = cellValue(b, index, kind);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.addEventListener("click", function (event) {
    var header = event.target.closest("th[data-sort]");
    if (header) sortBy(header);
  });
  document.addEventListener("keydown", function (event) {
    var header = event.target.closest && event.target.closest("th[data-sort]");
    if (header && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); sortBy(header); }
  });

  // Copying: a button[data-copy] puts its text on the clipboard (with a fallback for browsers that
  // refuse the Clipboard API, e.g. on plain http under a host name).
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (error) { done = false; }
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  window.copyText = function (text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  };
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy], button[data-copy-from]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    if (text === null) {
      var source = document.getElementById(button.getAttribute("data-copy-from"));
      text = source ? source.textContent : "";
    }
    window.copyText(text).then(function () {
      button.classList.add("copied");
      button.setAttribute("data-copied", text);
      setTimeout(function () { button.classList.remove("copied"); }, 1500);
    }, function () { button.title = "Could not copy: select the text instead"; });
  });
  // Links into Airflow's own UI ("open in Airflow"). Inside Airflow's frame the page is sandboxed
  // without top navigation, so a target=_top link would do nothing: the frame asks Airflow's UI (same
  // origin) to show the route instead, as its own links do (history entry, then popstate for its
  // router). On its own, or when the frame cannot reach Airflow's window, the link works as a link.
  function framed() {
    try { return window.parent !== window && window.parent.location.origin === window.location.origin; }
    catch (error) { return false; }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-airflow-route]");
    if (!link || !framed() || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var target = new URL(link.href, window.location.href);
    var airflow = window.parent;
    try {
      var state = airflow.history.state || {};
      airflow.history.pushState({usr: null, key: Math.random().toString(36).slice(2, 10),
                                 idx: (typeof state.idx === "number" ? state.idx : 0) + 1},
                                "", target.pathname + target.search + target.hash);
      airflow.dispatchEvent(new airflow.PopStateEvent("popstate", {state: airflow.history.state}));
      event.preventDefault();
    } catch (error) { /* the link's own navigation */ }
  });
  // Other links that leave the page (sign in) open in the frame itself when framed: the sandbox
  // refuses target=_top.
  if (framed()) {
    document.querySelectorAll("a[target=_top]:not([data-airflow-route])").forEach(function (link) {
      link.target = "_self";
    });
  }
})();

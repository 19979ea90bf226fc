// The job view follows its job: it asks the plugin's API for the job (api/jobs/{dag_id}/{run_id})
// every few seconds and, when anything changed (a step's state, a validation record, the error),
// redraws #job-live from this page's own HTML, so the page is drawn by one set of templates. It stops
// once the job has ended (success or failed), and pauses while the browser tab is hidden.
(function () {
  var FINAL = ["success", "failed"];
  var EVERY_MS = 3000;          // while a step runs or is queued
  var WAITING_EVERY_MS = 10000; // while the job only waits (a deferred step checks ACM or Route 53)
  var timer = null;
  var busy = false;

  function live() { return document.getElementById("job-live"); }

  // JSON text with its keys sorted, so that the page's data (sorted by the template) and the API's
  // answer compare equal when nothing changed.
  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (key) {
        return JSON.stringify(key) + ":" + canonical(value[key]);
      }).join(",") + "}";
    }
    return JSON.stringify(value === undefined ? null : value);
  }
  function shown() {
    var data = document.getElementById("job-data");
    try { return canonical(JSON.parse(data.textContent)); } catch (error) { return ""; }
  }
  function ended(job) { return FINAL.indexOf(job.state) >= 0; }
  function waitingOnly(job) {
    var steps = job.steps || [];
    return steps.some(function (s) { return s.state === "deferred"; }) &&
      !steps.some(function (s) { return s.state === "running" || s.state === "queued" || s.state === "scheduled"; });
  }
  function clock(date) { return date.toTimeString().slice(0, 8); }
  function stamp(text) {
    var updated = document.getElementById("updated");
    if (updated) updated.textContent = text;
  }
  // "next check by HH:MM:SS": the trigger checks once per interval, so by then at the latest.
  function nextCheck(asked) {
    var span = document.getElementById("next-check");
    if (!span) return;
    var interval = parseFloat(span.getAttribute("data-interval"));
    if (!(interval > 0)) return;
    span.textContent = "next check by " + clock(new Date(asked.getTime() + interval * 1000));
  }

  // Redraw #job-live from the page's own HTML (the templates), keeping the scroll position.
  function redraw() {
    return fetch(window.location.href, {credentials: "same-origin", headers: {Accept: "text/html"}})
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("job-live");
        if (!fresh) throw new Error("not a job page");
        var current = live();
        current.innerHTML = fresh.innerHTML;
        Array.prototype.forEach.call(fresh.attributes, function (attribute) {
          current.setAttribute(attribute.name, attribute.value);
        });
      });
  }

  function schedule(job) {
    clearTimeout(timer);
    if (ended(job)) return;
    timer = setTimeout(poll, waitingOnly(job) ? WAITING_EVERY_MS : EVERY_MS);
  }

  function poll() {
    if (busy) return;
    if (document.hidden) { timer = null; return; }  // picked up again when the tab is shown
    busy = true;
    var asked = new Date();
    fetch(live().getAttribute("data-api"), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, status: response.status, body: body}; });
      })
      .then(function (answer) {
        if (!answer.ok) throw new Error((answer.body && answer.body.detail) || ("HTTP " + answer.status));
        var job = answer.body;
        var changed = canonical(job) !== shown();
        return (changed ? redraw() : Promise.resolve()).then(function () {
          stamp(ended(job) ? "" : "Last checked " + clock(asked) + ".");
          nextCheck(asked);
          schedule(job);
        });
      })
      .catch(function (error) {
        stamp("Could not refresh (" + error.message + "): trying again.");
        clearTimeout(timer);
        timer = setTimeout(poll, WAITING_EVERY_MS);
      })
      .then(function () { busy = false; });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer === null && live().getAttribute("data-final") !== "true") poll();
  });
  if (live() && live().getAttribute("data-final") !== "true") {
    nextCheck(new Date());
    timer = setTimeout(poll, EVERY_MS);
  }
})();

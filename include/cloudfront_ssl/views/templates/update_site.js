// The update page: builds an ssl_update_site conf from the form, shows its plan (the job's own check)
// as the user types, and starts the job. Text from the user or the API goes in with textContent only.
(function () {
  var form = document.getElementById("update-site");
  var start = document.getElementById("start");
  var startStatus = document.getElementById("start-status");
  var planBody = document.getElementById("plan-body");
  var mayStart = start.getAttribute("data-may-start") === "true";
  var sequence = 0, timer = null;

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function buildConf() {
    var conf = {
      distribution_id: form.getAttribute("data-distribution"),
      names: document.getElementById("names").value.split("\n").filter(function (l) { return l.trim(); })
    };
    form.querySelectorAll("[data-option]").forEach(function (input) {
      var name = input.getAttribute("data-option"), kind = input.getAttribute("data-kind");
      if (kind === "boolean") { conf[name] = input.checked; return; }
      var text = input.value.trim();
      if (!text) { if (input.getAttribute("data-nullable") === "true") conf[name] = null; return; }
      conf[name] = (kind === "integer" || kind === "number") && !isNaN(Number(text)) ? Number(text) : text;
    });
    return conf;
  }
  function list(title, items, id) {
    if (!items.length) return;
    planBody.appendChild(element("h3", title));
    var ul = element("ul"); ul.id = id;
    items.forEach(function (text) { ul.appendChild(element("li", text)); });
    planBody.appendChild(ul);
  }
  function renderPlan(plan, problem) {
    planBody.textContent = "";
    var errors = (plan && plan.errors || []).map(function (e) { return e.message; });
    if (problem) errors.push(problem);
    var valid = plan && plan.valid && !problem;
    var verdict = element("p", valid ? "Ready to start." : errors.length + " problem(s) to fix before the job can start.",
                          valid ? "ok" : "error");
    verdict.id = "plan-verdict";
    planBody.appendChild(verdict);
    list("Problems", errors, "plan-errors");
    var site = plan && plan.site;
    if (site) {
      list("Names", [
        "keeps: " + ((site.names_after || []).filter(function (n) { return (site.names_added || []).indexOf(n) < 0; }).join(", ") || "none"),
        "gains: " + ((site.names_added || []).join(", ") || "none"),
        "loses: " + ((site.names_removed || []).join(", ") || "none")
      ], "plan-names");
      list("Certificate", [
        "now: " + (site.certificate_before || "CloudFront's default"),
        "after: " + (site.certificate_arn || "a new one requested for " + (site.certificate_names || []).join(", "))
      ], "plan-certificate");
    }
    if (plan) {
      list("DNS (Route 53)", (plan.dns || []).map(function (z) {
        return z.name + ": " + (z.zone_name ? "zone " + z.zone_name + " (" + z.zone_id + ")" : "no hosted zone: left to its owner");
      }), "plan-dns");
      list("Notes", plan.notes || [], "plan-notes");
    }
    start.disabled = !(valid && mayStart);
  }
  function post(path, conf) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify(conf)
    }).then(function (response) {
      return response.json().then(function (body) { return {status: response.status, body: body}; });
    });
  }
  function requestPlan() {
    var mine = ++sequence;
    post("api/plan", buildConf()).then(function (answer) {
      if (mine !== sequence) return;
      if (answer.status === 200 || answer.status === 422) renderPlan(answer.body);
      else renderPlan(null, "the plan could not be made: " + (answer.body.detail || answer.status));
    }).catch(function (error) { if (mine === sequence) renderPlan(null, "the plan could not be made: " + error.message); });
  }
  function schedulePlan() { start.disabled = true; clearTimeout(timer); timer = setTimeout(requestPlan, 400); }
  form.addEventListener("input", schedulePlan);
  form.addEventListener("change", schedulePlan);
  start.addEventListener("click", function () {
    start.disabled = true;
    startStatus.textContent = "Starting…";
    post("api/sites", buildConf()).then(function (answer) {
      if (answer.status === 200) { startStatus.textContent = "Started " + answer.body.run_id; window.location.href = answer.body.href; }
      else if (answer.status === 422) { startStatus.textContent = ""; renderPlan(answer.body); }
      else { startStatus.textContent = "Could not start: " + (answer.body.detail || answer.status); start.disabled = false; }
    }).catch(function (error) { startStatus.textContent = "Could not start: " + error.message; start.disabled = false; });
  });
  schedulePlan();
})();

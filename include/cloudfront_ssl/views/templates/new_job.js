// The New job page: builds a create-job conf from the form, asks the plugin's API for its plan as the
// user types (debounced), and starts the job. Every text from the user or the API is put in the page
// with textContent, never as HTML.
(function () {
  var form = document.getElementById("new-job");
  var certificates = document.getElementById("certificates");
  var source = document.getElementById("source");
  var sourceFilter = document.getElementById("source-filter");
  var sourceStatus = document.getElementById("source-status");
  var sourceMore = document.getElementById("source-more");
  var createDistributions = document.getElementById("create_distributions");
  var tags = document.getElementById("tags");
  var start = document.getElementById("start");
  var startStatus = document.getElementById("start-status");
  var planBody = document.getElementById("plan-body");
  var mayStart = start.getAttribute("data-may-start") === "true";
  var PAGE = 50;
  var planned = null;      // the last plan answered, for the conf the form holds now
  var plannedFor = null;   // that conf, as JSON: a change event that changes nothing keeps the plan
  var sequence = 0;        // answers to older requests are dropped
  var timer = null;

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // --- the source distribution ------------------------------------------------------------------
  var loaded = 0, total = 0, filterTimer = null;
  function describe(d) {
    var parts = [d.id, d.domain_name || ""];
    if (d.aliases && d.aliases.length) parts.push(d.aliases.join(", "));
    if (d.comment) parts.push(d.comment);
    return parts.join(" — ");
  }
  function loadDistributions(reset) {
    var chosen = source.value;
    if (reset) { loaded = 0; source.textContent = ""; }
    var query = "api/distributions?limit=" + PAGE + "&offset=" + loaded +
      "&q=" + encodeURIComponent(sourceFilter.value.trim());
    sourceStatus.textContent = "Loading the account's distributions…";
    fetch(query, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      })
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.body.detail || "the distributions could not be listed");
        answer.body.distributions.forEach(function (d) {
          var option = element("option", describe(d));
          option.value = d.id;
          option.setAttribute("data-id", d.id);
          source.appendChild(option);
        });
        loaded += answer.body.distributions.length;
        total = answer.body.total_entries;
        if (chosen) source.value = chosen;
        sourceStatus.textContent = total ? ("Showing " + loaded + " of " + total + " distribution(s). Pick the one to copy.")
                                         : "No distribution matches.";
        sourceMore.hidden = loaded >= total;
      })
      .catch(function (error) { sourceStatus.textContent = "Could not list the distributions: " + error.message; });
  }
  sourceFilter.addEventListener("input", function () {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(function () { loadDistributions(true); }, 300);
  });
  sourceMore.addEventListener("click", function () { loadDistributions(false); });
  function showSource() {
    document.getElementById("source-field").style.display = createDistributions.checked ? "" : "none";
  }
  createDistributions.addEventListener("change", showSource);

  // --- tags as key/value rows -----------------------------------------------------------------------
  function addTag(key, value) {
    var row = element("div", null, "tag-row");
    var keyInput = element("input"); keyInput.placeholder = "key"; keyInput.className = "tag-key";
    keyInput.setAttribute("aria-label", "Tag key"); keyInput.value = key || "";
    var valueInput = element("input"); valueInput.placeholder = "value"; valueInput.className = "tag-value";
    valueInput.setAttribute("aria-label", "Tag value"); valueInput.value = value || "";
    var remove = element("button", "Remove"); remove.type = "button";
    remove.addEventListener("click", function () { row.remove(); schedulePlan(); });
    row.appendChild(keyInput); row.appendChild(valueInput); row.appendChild(remove);
    tags.appendChild(row);
    return row;
  }
  document.getElementById("add-tag").addEventListener("click", function () {
    addTag().querySelector("input").focus();
  });

  // --- the conf -------------------------------------------------------------------------------------
  function buildConf() {
    var problems = [];
    // Every line is sent, blank ones included, so that the plan's line numbers are the textarea's.
    var lines = certificates.value.replace(/\s+$/, "").split("\n");
    var conf = {
      certificates: lines,
      aggregate: document.getElementById("aggregate").checked,
      create_distributions: createDistributions.checked,
      source_distribution_id: createDistributions.checked ? (source.value || null) : null,
      tags: {}
    };
    tags.querySelectorAll(".tag-row").forEach(function (row, index) {
      var key = row.querySelector(".tag-key").value.trim();
      var value = row.querySelector(".tag-value").value;
      if (!key && !value) return;
      if (!key) { problems.push({field: "tags", message: "tag row " + (index + 1) + ": give a key"}); return; }
      if (Object.prototype.hasOwnProperty.call(conf.tags, key)) {
        problems.push({field: "tags", message: "tag " + key + " is given twice"}); return;
      }
      conf.tags[key] = value;
    });
    form.querySelectorAll("[data-option]").forEach(function (input) {
      var name = input.getAttribute("data-option"), kind = input.getAttribute("data-kind");
      if (kind === "boolean") { conf[name] = input.checked; return; }
      var text = input.value.trim();
      if (!text) { if (input.getAttribute("data-nullable") === "true") conf[name] = null; return; }
      if (kind === "integer" || kind === "number") {
        var number = Number(text);
        conf[name] = isNaN(number) ? text : number;
      } else {
        conf[name] = text;
      }
    });
    return {conf: conf, problems: problems};
  }

  // --- the plan ---------------------------------------------------------------------------------------
  // "Line 3: <message>" for a line of the certificates, "<field's label>: <message>" otherwise: the
  // form's words, not the conf's keys, and lines counted from 1 as the textarea counts them.
  var labels = {};
  try { labels = JSON.parse(document.getElementById("field-labels").textContent); } catch (error) { labels = {}; }
  function readable(text) {
    return String(text || "")
      .replace(/certificates\[(\d+)\](?: \(line \d+\))?/g, function (match, item) { return "line " + (Number(item) + 1); })
      .replace(/\b[A-Z][A-Za-z]*(?:Error|Exception): /g, "");
  }
  function describeError(item) {
    var message = item.message || "";
    if (item.line !== null && item.line !== undefined) {
      return "Line " + item.line + ": " + readable(message.replace(/^certificates\[\d+\](?: \(line \d+\))?: /, ""));
    }
    var field = item.field || "";
    var label = labels[field] || field;
    if (field && message.indexOf(field + ":") === 0) message = message.slice(field.length + 1).trim();
    else if (field && message.indexOf(field + " ") === 0) return label + readable(message.slice(field.length));
    message = readable(message);
    return label ? label + ": " + message : message;
  }
  function list(title, items, text, id, className) {
    if (!items.length) return;
    planBody.appendChild(element("h3", title));
    var ul = element("ul", null, className); if (id) ul.id = id;
    items.forEach(function (item) { ul.appendChild(element("li", text(item))); });
    planBody.appendChild(ul);
  }
  function renderPlan(plan, localProblems) {
    planBody.textContent = "";
    var errors = (plan && plan.errors || []).concat(localProblems || []);
    var valid = plan && plan.valid && !(localProblems || []).length;
    var text = valid ? (mayStart ? "Ready to start." :
        "The plan is valid, but you may not start it: that needs the permission to trigger ssl_create_certificates.") :
      (errors.length === 1 ? "1 problem to fix before the job can start." : errors.length + " problems to fix before the job can start.");
    var verdict = element("p", text, valid ? (mayStart ? "ok" : "note") : "error");
    verdict.id = "plan-verdict";
    planBody.appendChild(verdict);
    list("Problems", errors, describeError, "plan-errors", "plan-errors");
    showVerdict(text, valid ? (mayStart ? "ok" : "note") : "error", errors);
    if (plan) {
      list("Certificates to request", plan.certificates || [], function (c) {
        return "Line " + c.line + ": " + c.names.join(", ");
      }, "plan-certificates");
      list("Covered by a wildcard (not requested again)", plan.covered || [], function (c) {
        return "Line " + c.line + ": " + c.name + " is covered by " + c.covered_by +
          " (the certificate of line " + (c.certificate_item + 1) + ")";
      }, "plan-covered");
      list("Distributions to create", plan.distributions || [], function (d) {
        var own = d.certificate_item === d.item;
        return "Line " + d.line + ": " + d.aliases.join(", ") + " — with " +
          (own ? "its own certificate" : "the certificate of line " + (d.certificate_item + 1));
      }, "plan-distributions");
      list("Conflicts", plan.conflicts || [], function (c) {
        return "Line " + c.line + ": " + c.name + " is held by " + c.held_by;
      }, "plan-conflicts", "plan-errors");
      list("DNS (Route 53)", plan.dns || [], function (z) {
        return z.name + ": " + (z.zone_name ? "zone " + z.zone_name + " (" + z.zone_id + ")" : "no hosted zone: left to its owner");
      }, "plan-dns");
      list("Notes", plan.notes || [], function (n) { return n; }, "plan-notes");
    }
    start.disabled = !(valid && mayStart);
  }
  // The verdict and its problems again beside Start, which stays at the bottom of the window: on a
  // phone the plan itself is far below the form.
  var startVerdict = document.getElementById("start-verdict");
  function showVerdict(text, className, errors) {
    startVerdict.textContent = "";
    var line = element("p", text, "verdict " + className);
    if (errors && errors.length) {
      var link = element("a", " See the plan");
      link.href = "#plan";
      line.appendChild(link);
    }
    startVerdict.appendChild(line);
    if (errors && errors.length) {
      var ul = element("ul", null, "plan-errors");
      ul.id = "start-errors";
      errors.forEach(function (item) { ul.appendChild(element("li", describeError(item))); });
      startVerdict.appendChild(ul);
    }
  }
  function requestPlan() {
    var built = buildConf();
    if (!built.conf.certificates.join("").trim()) {
      planned = null;
      planBody.textContent = "";
      planBody.appendChild(element("p", "Type the certificates' names to see what the job will do.", "muted"));
      showVerdict("Type the certificates' names to see what the job will do.", "muted", []);
      start.disabled = true;
      return;
    }
    var mine = ++sequence;
    var asked = JSON.stringify(built.conf);
    planBody.setAttribute("aria-busy", "true");
    startVerdict.setAttribute("aria-busy", "true");
    fetch("api/plan", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify(built.conf)
    }).then(function (response) {
      return response.json().then(function (body) { return {status: response.status, body: body}; });
    }).then(function (answer) {
      if (mine !== sequence) return;
      planBody.removeAttribute("aria-busy");
      startVerdict.removeAttribute("aria-busy");
      if (answer.status === 200 || answer.status === 422) {
        planned = answer.body;
        plannedFor = built.problems.length ? null : asked;
        renderPlan(answer.body, built.problems);
      } else {
        planned = null;
        renderPlan(null, [{message: "the plan could not be made: " + (answer.body.detail || answer.status)}]);
      }
    }).catch(function (error) {
      if (mine !== sequence) return;
      planBody.removeAttribute("aria-busy");
      startVerdict.removeAttribute("aria-busy");
      renderPlan(null, [{message: "the plan could not be made: " + error.message}]);
    });
  }
  function schedulePlan() {
    // Leaving a field fires "change" although nothing changed (clicking Start right after typing a
    // tag does): the plan then still holds, and Start must stay clickable.
    if (plannedFor !== null && JSON.stringify(buildConf().conf) === plannedFor) return;
    plannedFor = null;
    start.disabled = true;
    clearTimeout(timer);
    timer = setTimeout(requestPlan, 400);
  }
  form.addEventListener("input", function (event) { if (event.target !== sourceFilter) schedulePlan(); });
  form.addEventListener("change", function (event) { if (event.target !== sourceFilter) schedulePlan(); });

  // --- start ------------------------------------------------------------------------------------------
  start.addEventListener("click", function () {
    var built = buildConf();
    if (built.problems.length) { renderPlan(planned, built.problems); return; }
    start.disabled = true;
    startStatus.textContent = "Starting…";
    fetch("api/jobs", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json"},
      body: JSON.stringify(built.conf)
    }).then(function (response) {
      return response.json().then(function (body) { return {status: response.status, body: body}; });
    }).then(function (answer) {
      if (answer.status === 200) {
        startStatus.textContent = "Started " + answer.body.run_id;
        window.location.href = answer.body.href;
      } else if (answer.status === 422) {
        startStatus.textContent = "";
        renderPlan(answer.body, []);
      } else {
        startStatus.textContent = "Could not start: " + (answer.body.detail || answer.status);
        start.disabled = false;
      }
    }).catch(function (error) {
      startStatus.textContent = "Could not start: " + error.message;
      start.disabled = false;
    });
  });

  showSource();
  loadDistributions(true);
  if (certificates.value.trim()) schedulePlan();
})();

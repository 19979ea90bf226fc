// The New job page: builds a create-job conf from the form, asks the plugin's API for its plan as the
// user types (debounced), and starts the job. Every text from the user or the API is put in the page
// with textContent, never as HTML.
(function () {
  var form = document.getElementById("new-job");
  var certificates = document.getElementById("certificates");
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

  // --- the distributions: the source to copy, the multi-tenant one the tenants use ------------------
  // Both lists are the chosen account's (the aws_conn_id option): changing it lists that account's.
  var connection = document.getElementById("opt-aws_conn_id");
  function describe(d) {
    var parts = [d.id, d.domain_name || ""];
    if (d.aliases && d.aliases.length) parts.push(d.aliases.join(", "));
    if (d.comment) parts.push(d.comment);
    return parts.join(" — ");
  }
  function picker(select, filter, status, more, multiTenant, noun) {
    var loaded = 0, total = 0, filterTimer = null, generation = 0;
    function load(reset) {
      var chosen = select.value, mine = reset ? ++generation : generation;
      if (reset) { loaded = 0; select.textContent = ""; }
      var conn = connection ? connection.value.trim() : "";
      var query = "api/distributions?limit=" + PAGE + "&offset=" + loaded + "&multi_tenant=" + multiTenant +
        "&q=" + encodeURIComponent(filter.value.trim()) + (conn ? "&aws_conn_id=" + encodeURIComponent(conn) : "");
      status.textContent = "Loading the account's " + noun + "s…";
      fetch(query, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) {
          return response.json().then(function (body) { return {ok: response.ok, body: body}; });
        })
        .then(function (answer) {
          if (mine !== generation) return;
          if (!answer.ok) throw new Error(answer.body.detail || "the " + noun + "s could not be listed");
          answer.body.distributions.forEach(function (d) {
            var option = element("option", describe(d));
            option.value = d.id;
            option.setAttribute("data-id", d.id);
            select.appendChild(option);
          });
          loaded += answer.body.distributions.length;
          total = answer.body.total_entries;
          if (chosen) select.value = chosen;
          status.textContent = total ? ("Showing " + loaded + " of " + total + " " + noun + "(s). Pick one.")
                                     : "No " + noun + " matches.";
          more.hidden = loaded >= total;
          schedulePlan();
        })
        .catch(function (error) {
          if (mine !== generation) return;
          status.textContent = "Could not list the " + noun + "s: " + error.message;
          more.hidden = true;
          schedulePlan();
        });
    }
    filter.addEventListener("input", function () {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(function () { load(true); }, 300);
    });
    more.addEventListener("click", function () { load(false); });
    return {load: load, filter: filter};
  }
  var source = document.getElementById("source");
  var sources = picker(source, document.getElementById("source-filter"), document.getElementById("source-status"),
    document.getElementById("source-more"), false, "distribution");
  var template = document.getElementById("template");
  var templates = picker(template, document.getElementById("template-filter"), document.getElementById("template-status"),
    document.getElementById("template-more"), true, "multi-tenant distribution");
  var connectionTimer = null;
  if (connection) {
    connection.addEventListener("input", function () {
      clearTimeout(connectionTimer);
      connectionTimer = setTimeout(function () { sources.load(true); templates.load(true); }, 400);
    });
  }
  function showSource() {
    document.getElementById("source-field").style.display = createDistributions.checked ? "" : "none";
  }
  createDistributions.addEventListener("change", showSource);

  // --- hosting: distributions or tenants ------------------------------------------------------------
  function hosting() { return document.getElementById("hosting-tenant").checked ? "tenant" : "distribution"; }
  function showHosting() {
    var tenant = hosting() === "tenant";
    document.getElementById("tenant-fields").hidden = !tenant;
    document.getElementById("distributions-fields").hidden = tenant;
  }
  form.querySelectorAll("input[name=hosting]").forEach(function (input) {
    input.addEventListener("change", showHosting);
  });

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
  var parameters = document.getElementById("parameters");
  function addParameter() {
    var row = element("div", null, "tag-row parameter-row");
    var keyInput = element("input"); keyInput.placeholder = "parameter"; keyInput.className = "parameter-key";
    keyInput.setAttribute("aria-label", "Parameter name");
    var valueInput = element("input"); valueInput.placeholder = "value"; valueInput.className = "parameter-value";
    valueInput.setAttribute("aria-label", "Parameter value");
    var remove = element("button", "Remove"); remove.type = "button";
    remove.addEventListener("click", function () { row.remove(); schedulePlan(); });
    row.appendChild(keyInput); row.appendChild(valueInput); row.appendChild(remove);
    parameters.appendChild(row);
    return row;
  }
  document.getElementById("add-parameter").addEventListener("click", function () {
    addParameter().querySelector("input").focus();
  });
  // Key/value rows as an object; a row without a key, or a key given twice, is a problem of ``field``.
  function keyValues(container, rowClass, keyClass, valueClass, field, noun, problems) {
    var values = {};
    container.querySelectorAll("." + rowClass).forEach(function (row, index) {
      var key = row.querySelector("." + keyClass).value.trim();
      var value = row.querySelector("." + valueClass).value;
      if (!key && !value) return;
      if (!key) { problems.push({field: field, message: noun + " row " + (index + 1) + ": give a " + (noun === "tag" ? "key" : "name")}); return; }
      if (Object.prototype.hasOwnProperty.call(values, key)) {
        problems.push({field: field, message: noun + " " + key + " is given twice"}); return;
      }
      values[key] = value;
    });
    return values;
  }

  // --- the conf -------------------------------------------------------------------------------------
  function buildConf() {
    var problems = [];
    // Every line is sent, blank ones included, so that the plan's line numbers are the textarea's.
    var lines = certificates.value.replace(/\s+$/, "").split("\n");
    var conf = {certificates: lines, aggregate: document.getElementById("aggregate").checked};
    if (hosting() === "tenant") {
      // create_distributions and source_distribution_id do not apply to tenants: left out.
      conf.hosting = "tenant";
      conf.multi_tenant_distribution_id = template.value || null;
      conf.connection_group_id = document.getElementById("connection_group_id").value.trim() || null;
      conf.certificate_source = document.getElementById("certificate-managed").checked ? "managed" : "acm";
      conf.tenant_parameters = keyValues(parameters, "parameter-row", "parameter-key", "parameter-value",
                                         "tenant_parameters", "parameter", problems);
    } else {
      conf.create_distributions = createDistributions.checked;
      conf.source_distribution_id = createDistributions.checked ? (source.value || null) : null;
    }
    conf.tags = keyValues(tags, "tag-row", "tag-key", "tag-value", "tags", "tag", problems);
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
      list("Tenants to create", plan.tenants || [], function (t) {
        return "Line " + t.line + ": " + t.names.join(", ") + " — with " +
          (t.certificate_item === null || t.certificate_item === undefined ? "a certificate CloudFront manages" :
           t.certificate_item === t.item ? "its own certificate" : "the certificate of line " + (t.certificate_item + 1));
      }, "plan-tenants");
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
  function isFilter(target) { return target === sources.filter || target === templates.filter; }
  form.addEventListener("input", function (event) { if (!isFilter(event.target)) schedulePlan(); });
  form.addEventListener("change", function (event) { if (!isFilter(event.target)) schedulePlan(); });

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
  showHosting();
  sources.load(true);
  templates.load(true);
  if (certificates.value.trim()) schedulePlan();
})();

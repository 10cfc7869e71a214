/* The pages' scripts: they read and change everything through the REST API, with the
   session cookie and the page's CSRF token, so the API's checks apply to every click. */
(function () {
  "use strict";

  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var API = "/api/v1";
  // most points per chart series; the server thins longer ones
  var POINTS = parseInt((document.querySelector('meta[name="chart-points"]') || {}).content, 10) || 2000;
  // reads the page started in its head (the layout's `prefetch`), each taken once
  var PREFETCHED = window.polyaxonPrefetched || {};
  var PLOT_CONFIG = {responsive: true, displaylogo: false};
  var SYSTEM_PREFIX = "system/";  // resource samples (CPU, memory, GPU) of a run

  function ApiError(status, message, payload) {
    this.status = status; this.message = message; this.payload = payload;
  }

  function api(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json"}};
    if (method !== "GET") options.headers["X-CSRFToken"] = CSRF;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    var prefetched = method === "GET" && PREFETCHED[path];
    if (prefetched) delete PREFETCHED[path];
    return (prefetched || fetch(API + path, options)).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return {}; }).then(function (payload) {
        if (response.status === 401) {
          window.location.assign("/login/?next=" + encodeURIComponent(window.location.pathname + window.location.search));
        }
        if (!response.ok) throw new ApiError(response.status, payload.message || response.statusText, payload);
        return payload;
      });
    });
  }

  /* The charting libraries arrive with the page's `async` scripts (uPlot for a run's line
     charts, plotly.js for the rest): the data requests go out while the browser compiles
     them, and each chart is drawn as soon as both are there. */
  var libraries = {};

  function library(scriptId, global) {
    if (window[global]) return Promise.resolve(window[global]);
    if (!libraries[scriptId]) {
      libraries[scriptId] = new Promise(function (resolve, reject) {
        var script = document.getElementById(scriptId);
        if (!script) {
          reject(new Error("this server has no " + global + " to draw charts with: `make assets` builds it"));
          return;
        }
        script.addEventListener("load", function () { resolve(window[global]); });
        script.addEventListener("error", function () { reject(new Error(global + ", the charting library, did not load")); });
      });
    }
    return libraries[scriptId];
  }

  function plotly() { return library("plotly-script", "Plotly"); }

  function plot(method, box, traces, layout, config) {
    return plotly().then(function (Plotly) {
      return Plotly[method](box, traces, layout || box.layout, config || PLOT_CONFIG);
    });
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") node.textContent = attributes[key];
      else if (key === "className") node.className = attributes[key];
      else node.setAttribute(key, attributes[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function badge(status) {
    return el("span", {className: "badge status status-" + status, text: status});
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " m " + Math.round(seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.round((seconds % 3600) / 60) + " m";
  }

  function parseTime(iso) {
    return new Date(/Z|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
  }

  function formatTime(iso) {
    if (!iso) return "";
    return parseTime(iso).toLocaleString();
  }

  function runPath(owner, project, uuid) {
    return "/" + encodeURIComponent(owner) + "/" + encodeURIComponent(project) + "/runs/" + uuid;
  }

  /* ------------------------------------------------------------------ projects page */
  function projectsPage(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = form.querySelector(".form-error");
      error.textContent = "";
      var body = {name: form.elements.name.value.trim()};
      if (form.elements.description.value.trim()) body.description = form.elements.description.value.trim();
      api("POST", "/" + encodeURIComponent(form.dataset.owner) + "/projects/create", body)
        .then(function (project) {
          window.location.assign("/projects/" + encodeURIComponent(project.owner) + "/" + encodeURIComponent(project.name) + "/");
        })
        .catch(function (failure) { error.textContent = failure.message; });
    });
  }

  /* ---------------------------------------------------------------------- runs page */
  var BASE_COLUMNS = [
    {key: "name", label: "Run", sort: "name"},
    {key: "status", label: "Status", sort: "status"},
    {key: "created_at", label: "Created", sort: "created_at"},
    {key: "duration", label: "Duration", sort: "duration"},
  ];
  var LIMIT = 50;

  function runsPage(root) {
    var owner = root.dataset.owner, project = root.dataset.project;
    var finalStatuses = root.dataset.final.split(",");
    var storageKey = "polyaxon.columns." + owner + "/" + project;
    var state = {query: "", sort: "-created_at", offset: 0, archived: false, count: 0,
                 results: [], selected: {}, chosen: JSON.parse(window.localStorage.getItem(storageKey) || "null"),
                 known: {}, timer: null, loading: false};
    var queryInput = root.querySelector("#query"), queryError = root.querySelector("#query-error");
    var table = root.querySelector("#runs-table"), empty = root.querySelector("#runs-empty");

    var params = new URLSearchParams(window.location.search);
    state.query = params.get("query") || "";
    state.sort = params.get("sort") || state.sort;
    state.offset = Math.max(0, parseInt(params.get("offset") || "0", 10) || 0);
    queryInput.value = state.query;

    function dataColumns() {
      var chosen = state.chosen || Object.keys(state.known).filter(function (key) { return key.indexOf("metrics.") === 0; }).slice(0, 4);
      return chosen.map(function (key) { return {key: key, label: key, sort: key}; });
    }

    function showQueryError(failure) {
      queryError.hidden = false;
      queryError.textContent = "";
      var errors = (failure.payload && failure.payload.errors) || {};
      var detail = (errors.query || errors.sort || [failure.message])[0];
      var position = /at character (\d+)/.exec(detail);
      var text = errors.sort ? state.sort : state.query;
      queryError.appendChild(el("div", {text: failure.message.split("\n")[0]}));
      if (position && text) {
        var at = parseInt(position[1], 10) - 1;
        queryError.appendChild(el("code", {className: "query-echo"}, [
          text.slice(0, at), el("mark", {text: text.slice(at, at + 1) || " "}), text.slice(at + 1)]));
        queryError.appendChild(el("div", {className: "small", text: detail}));
      }
    }

    function load() {
      if (state.loading) return;
      state.loading = true;
      var search = new URLSearchParams({offset: state.offset, limit: LIMIT, sort: state.sort});
      if (state.query) search.set("query", state.query);
      if (state.archived) search.set("archived", "true");
      api("GET", "/" + encodeURIComponent(owner) + "/" + encodeURIComponent(project) + "/runs?" + search)
        .then(function (page) {
          queryError.hidden = true;
          state.count = page.count; state.results = page.results;
          if (state.offset > 0 && state.offset >= page.count) {
            state.offset = Math.max(0, Math.floor((page.count - 1) / LIMIT) * LIMIT);
            state.loading = false;
            return load();
          }
          page.results.forEach(function (run) {
            ["inputs", "outputs", "metrics"].forEach(function (group) {
              Object.keys(run[group] || {}).forEach(function (name) { state.known[group + "." + name] = true; });
            });
          });
          render();
        })
        .catch(function (failure) {
          if (failure.status === 400) showQueryError(failure);
          else { queryError.hidden = false; queryError.textContent = failure.message; }
        })
        .then(function () { state.loading = false; schedule(); });
    }

    function schedule() {
      window.clearTimeout(state.timer);
      var active = state.results.some(function (run) { return finalStatuses.indexOf(run.status) < 0; });
      state.timer = window.setTimeout(load, active ? 2000 : 5000);
    }

    function sortHeader(column) {
      var th = el("th", {className: "sortable", "data-sort": column.sort}, [column.label]);
      if (state.sort === column.sort) th.appendChild(el("span", {className: "sort-mark", text: " \u25B2"}));
      if (state.sort === "-" + column.sort) th.appendChild(el("span", {className: "sort-mark", text: " \u25BC"}));
      th.addEventListener("click", function () {
        state.sort = state.sort === "-" + column.sort ? column.sort : "-" + column.sort;
        state.offset = 0; pushState(); load();
      });
      return th;
    }

    function cell(run, key) {
      if (key === "name") {
        var link = el("a", {href: root.dataset.runUrl.replace("UUID", run.uuid), className: "run-link", text: run.name || run.uuid.slice(0, 12)});
        return el("td", {}, [link, " ", el("span", {className: "mono text-muted small", text: run.uuid.slice(0, 8)})]);
      }
      if (key === "status") return el("td", {}, [badge(run.status)]);
      if (key === "created_at") return el("td", {text: formatTime(run.created_at)});
      if (key === "duration") return el("td", {text: formatSeconds(run.duration)});
      var parts = key.split("."), group = parts.shift(), name = parts.join(".");
      return el("td", {className: "mono", "data-column": key, text: formatValue((run[group] || {})[name])});
    }

    function render() {
      var columns = BASE_COLUMNS.concat(dataColumns());
      var head = el("tr", {}, [el("th", {}, [el("input", {type: "checkbox", id: "select-all", "aria-label": "select all"})])]
        .concat(columns.map(sortHeader)));
      table.tHead.replaceChildren(head);
      head.querySelector("#select-all").addEventListener("change", function (event) {
        state.results.forEach(function (run) { if (event.target.checked) state.selected[run.uuid] = true; else delete state.selected[run.uuid]; });
        render();
      });
      table.tBodies[0].replaceChildren.apply(table.tBodies[0], state.results.map(function (run) {
        var box = el("input", {type: "checkbox", className: "select-run", "data-uuid": run.uuid, "aria-label": "select"});
        box.checked = !!state.selected[run.uuid];
        box.addEventListener("change", function () {
          if (box.checked) state.selected[run.uuid] = true; else delete state.selected[run.uuid];
          updateBulk();
        });
        return el("tr", {"data-uuid": run.uuid, "data-status": run.status},
                  [el("td", {}, [box])].concat(columns.map(function (column) { return cell(run, column.key); })));
      }));
      empty.hidden = state.results.length > 0;
      var pages = Math.max(1, Math.ceil(state.count / LIMIT));
      root.querySelector("#page-info").textContent = "page " + (Math.floor(state.offset / LIMIT) + 1) + " of " + pages + " \u00B7 " + state.count + " runs";
      root.querySelector("#previous-page").disabled = state.offset === 0;
      root.querySelector("#next-page").disabled = state.offset + LIMIT >= state.count;
      renderColumnsMenu();
      updateBulk();
    }

    function renderColumnsMenu() {
      var menu = root.querySelector("#columns-menu");
      var chosen = dataColumns().map(function (column) { return column.key; });
      var signature = Object.keys(state.known).sort().join("\n") + "|" + chosen.join("\n");
      if (menu.dataset.signature === signature) return;  // unchanged: keep it as it is
      menu.dataset.signature = signature;
      menu.replaceChildren.apply(menu, Object.keys(state.known).sort().map(function (key) {
        var box = el("input", {type: "checkbox", "data-column": key});
        box.checked = chosen.indexOf(key) >= 0;
        box.addEventListener("change", function () {
          var next = dataColumns().map(function (column) { return column.key; }).filter(function (name) { return name !== key; });
          if (box.checked) next.push(key);
          state.chosen = next;
          window.localStorage.setItem(storageKey, JSON.stringify(next));
          render();
        });
        return el("li", {}, [el("label", {}, [box, " " + key])]);
      }));
      if (!menu.children.length) menu.appendChild(el("li", {className: "text-muted", text: "no inputs, outputs or metrics yet"}));
    }

    function selectedUuids() { return Object.keys(state.selected); }

    root.querySelector("#compare").addEventListener("click", function () {
      window.location.assign(root.dataset.compareUrl + "?runs=" + selectedUuids().join(","));
    });

    function updateBulk() {
      var count = selectedUuids().length;
      root.querySelector("#compare").disabled = count < 2 || count > 20;
      root.querySelector("#selected-count").textContent = count + " selected";
      root.querySelectorAll("[data-bulk]").forEach(function (button) { button.disabled = count === 0; });
    }

    root.querySelectorAll("[data-bulk]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.dataset.bulk, uuids = selectedUuids();
        if (!window.confirm(action.charAt(0).toUpperCase() + action.slice(1) + " " + uuids.length + " run(s)?")) return;
        var result = root.querySelector("#bulk-result");
        result.textContent = "";
        Promise.all(uuids.map(function (uuid) {
          var path = runPath(owner, project, uuid);
          var request = action === "delete" ? api("DELETE", path) : api("POST", path + "/" + action);
          return request.then(function () { return null; }, function (failure) { return uuid.slice(0, 8) + ": " + failure.message; });
        })).then(function (failures) {
          failures = failures.filter(Boolean);
          result.textContent = failures.length ? failures.join("; ") : action + ": done for " + uuids.length + " run(s)";
          result.className = "bulk-result " + (failures.length ? "text-danger" : "text-success");
          state.selected = {};
          load();
        });
      });
    });

    function pushState() {
      var search = new URLSearchParams();
      if (state.query) search.set("query", state.query);
      if (state.sort !== "-created_at") search.set("sort", state.sort);
      if (state.offset) search.set("offset", state.offset);
      window.history.replaceState(null, "", window.location.pathname + (search.toString() ? "?" + search : ""));
    }

    var projectPath = "/" + encodeURIComponent(owner) + "/" + encodeURIComponent(project);

    function loadDashboards() {
      api("GET", projectPath + "/dashboards?limit=100").then(function (page) {
        var holder = document.getElementById("dashboards-list");
        holder.replaceChildren.apply(holder, page.results.length ? page.results.map(function (dashboard) {
          return el("a", {className: "dashboard-link", href: root.dataset.dashboardUrl.replace("UUID", dashboard.uuid),
                          text: dashboard.name + (dashboard.shared ? " (shared)" : "")});
        }) : [el("span", {className: "text-muted", text: "none yet"})]);
      });
    }

    var saveForm = document.getElementById("save-view-form");
    if (saveForm) {
      var widgets = [];
      var renderWidgets = function () {
        var list = saveForm.querySelector("#widgets");
        list.replaceChildren.apply(list, widgets.map(function (widget, index) {
          var remove = el("button", {type: "button", className: "btn btn-link btn-xs", text: "remove"});
          remove.addEventListener("click", function () { widgets.splice(index, 1); renderWidgets(); });
          return el("li", {}, [widget.kind.replace(/_/g, " ") + ": " + widget.metric + (widget.param ? " / " + widget.param : ""), remove]);
        }));
      };
      saveForm.querySelector("#add-widget").addEventListener("click", function () {
        var widget = {kind: saveForm.elements.kind.value, metric: saveForm.elements.metric.value.trim()};
        if (widget.kind === "metric_vs_param") widget.param = saveForm.elements.param.value.trim();
        if (!widget.metric) { saveForm.querySelector(".form-error").textContent = "name the metric of the chart"; return; }
        saveForm.querySelector(".form-error").textContent = "";
        widgets.push(widget); renderWidgets();
      });
      saveForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var error = saveForm.querySelector(".form-error");
        error.textContent = "";
        api("POST", projectPath + "/dashboards", {
          name: saveForm.elements.name.value.trim(), shared: saveForm.elements.shared.checked,
          spec: {query: state.query || null, sort: state.sort, columns: dataColumns().map(function (column) { return column.key; }), widgets: widgets},
        }).then(function (dashboard) {
          window.location.assign(root.dataset.dashboardUrl.replace("UUID", dashboard.uuid));
        }).catch(function (failure) {
          var errors = (failure.payload && failure.payload.errors) || {};
          error.textContent = failure.message + (Object.keys(errors).length ? ": " + JSON.stringify(errors) : "");
        });
      });
    }
    loadDashboards();

    root.querySelector("#runs-search").addEventListener("submit", function (event) {
      event.preventDefault();
      state.query = queryInput.value.trim(); state.offset = 0; pushState(); load();
    });
    root.querySelector("#archived").addEventListener("change", function (event) {
      state.archived = event.target.checked; state.offset = 0; load();
    });
    root.querySelector("#previous-page").addEventListener("click", function () {
      state.offset = Math.max(0, state.offset - LIMIT); pushState(); load();
    });
    root.querySelector("#next-page").addEventListener("click", function () {
      state.offset += LIMIT; pushState(); load();
    });
    load();
  }

  /* ----------------------------------------------------------------------- run page */
  function runPage(root) {
    var owner = root.dataset.owner, project = root.dataset.project, uuid = root.dataset.uuid;
    var finalStatuses = root.dataset.final.split(",");
    var path = runPath(owner, project, uuid);
    var status = root.dataset.status, logOffset = 0, charts = {};
    var result = root.querySelector("#action-result");

    function isFinal() { return finalStatuses.indexOf(status) >= 0; }

    function refreshStatus() {
      return api("GET", path + "/statuses").then(function (answer) {
        status = answer.status;
        var shown = root.querySelector("#run-status");
        shown.textContent = status; shown.className = "badge status status-" + status;
        var stop = root.querySelector("#stop-run");
        if (stop) stop.hidden = isFinal();
        root.querySelectorAll(".service-link").forEach(function (link) { link.hidden = status !== "running"; });
        var body = root.querySelector("#timeline tbody");
        body.replaceChildren.apply(body, answer.status_conditions.map(function (condition) {
          return el("tr", {}, [el("td", {text: formatTime(condition.last_transition_time)}), el("td", {}, [badge(condition.type)]),
                               el("td", {text: condition.reason || ""}), el("td", {text: condition.message || ""})]);
        }));
      });
    }

    function refreshLog() {
      return api("GET", path + "/logs?offset=" + logOffset).then(function (answer) {
        if (answer.data) {
          var log = root.querySelector("#log");
          log.appendChild(document.createTextNode(answer.data));
          var lines = log.textContent.split("\n");
          if (lines.length > 5000) log.textContent = lines.slice(-5000).join("\n");
          log.scrollTop = log.scrollHeight;
        }
        logOffset = answer.next_offset;
      });
    }

    function refreshMetrics() {
      return api("GET", path + "/metrics?max_points=" + POINTS).then(function (answer) {
        var names = Object.keys(answer.metrics).sort();
        var metrics = names.filter(function (name) { return name.indexOf(SYSTEM_PREFIX) !== 0; });
        var resources = names.filter(function (name) { return name.indexOf(SYSTEM_PREFIX) === 0; });
        if (metrics.length) { var none = root.querySelector("#no-metrics"); if (none) none.remove(); }
        if (resources.length) root.querySelector("#resources").hidden = false;
        metrics.forEach(function (name) {
          var points = answer.metrics[name];
          drawSeries(root.querySelector("#charts"), name, name,
                     points.map(function (point, index) { return point.step === null ? index : point.step; }),
                     points.map(function (point) { return point.value; }), false);
        });
        // resources over time (seconds since the epoch), so that they line up with the log
        // and the timeline
        resources.forEach(function (name) {
          var points = answer.metrics[name];
          drawSeries(root.querySelector("#resources"), name, name.slice(SYSTEM_PREFIX.length),
                     points.map(function (point) { return parseTime(point.timestamp).getTime() / 1000; }),
                     points.map(function (point) { return point.value; }), true);
        });
      });
    }

    // as wide as the longest of its labels (uPlot passes them formatted)
    function valueAxisWidth(chart, labels) {
      var longest = Math.max.apply(null, (labels || [""]).map(function (label) { return String(label).length; }));
      return Math.max(40, longest * 7 + 20);
    }

    /* One zoomable line chart per series (drag across to zoom, double-click to zoom
       out); `data-points` tells how many points it drew. */
    function drawSeries(holder, name, title, x, y, time) {
      var box = charts[name];
      if (!box) {
        box = charts[name] = el("div", {className: "chart line-chart", id: "chart-" + name.replace(/[^A-Za-z0-9_-]/g, "_"), "data-metric": name});
        holder.appendChild(box);
      }
      library("line-chart-script", "uPlot").then(function (uPlot) {
        if (box.uplot) {
          box.uplot.setData([x, y]);
        } else {
          box.uplot = new uPlot({
            title: title, width: box.clientWidth || 600, height: 300,
            scales: {x: {time: time}},
            axes: [{label: time ? "time" : "step"}, {size: valueAxisWidth}],
            series: [{label: time ? "time" : "step"},
                     {label: title, stroke: "#1f77b4", width: 1.5, points: {show: y.length <= 200}}],
          }, [x, y], box);
          // drawn at the box's width, again whenever it changes (a tab shown, a resized window)
          new ResizeObserver(function () {
            if (box.clientWidth && box.clientWidth !== box.uplot.width) box.uplot.setSize({width: box.clientWidth, height: 300});
          }).observe(box);
        }
        box.dataset.points = y.length;
      }).catch(function (failure) { box.replaceChildren(el("p", {className: "text-danger", text: failure.message})); });
    }

    function refreshArtifacts(folder, list) {
      return api("GET", path + "/artifacts/tree?path=" + encodeURIComponent(folder)).then(function (answer) {
        list.replaceChildren.apply(list, answer.files.map(function (file) {
          if (file.is_dir) {
            var inner = el("ul", {});
            var toggle = el("a", {href: "#", className: "folder", text: file.path + "/"});
            toggle.addEventListener("click", function (event) { event.preventDefault(); refreshArtifacts(file.path, inner); });
            return el("li", {}, [toggle, inner]);
          }
          var href = API + path + "/artifacts/download?path=" + encodeURIComponent(file.path);
          return el("li", {}, [el("a", {href: href, download: "", text: file.path}), el("span", {className: "text-muted", text: " " + file.size + " bytes"})]);
        }));
        if (!answer.files.length && folder === "") list.appendChild(el("li", {className: "text-muted", text: "no artifact"}));
      }).catch(function (failure) { list.replaceChildren(el("li", {className: "text-danger", text: failure.message})); });
    }

    function lineageDetails(row) {
      var summary = row.summary || {};
      if (row.kind === "code") return (summary.commit || "").slice(0, 12) + " " + (summary.branch || "") + (summary.is_dirty ? " (dirty)" : "");
      if (row.kind === "data") return summary.hash || "";
      var parts = [];
      if (summary.steps) parts.push(summary.steps + " steps, last " + summary.last_step);
      ["framework", "rows", "auc", "average_precision"].forEach(function (key) {
        if (summary[key] !== undefined && summary[key] !== null) parts.push(key + " " + (typeof summary[key] === "number" ? +summary[key].toFixed(4) : summary[key]));
      });
      return parts.join(", ");
    }

    function refreshLineage(table) {
      return api("GET", path + "/lineage/artifacts").then(function (answer) {
        var body = table.querySelector("tbody");
        body.replaceChildren.apply(body, answer.results.map(function (row) {
          var summary = row.summary || {};
          var file = summary.last_file || (row.kind === "data" || row.kind === "model" || row.kind === "code" ? null : row.path);
          var where = file ? el("a", {href: API + path + "/artifacts/download?path=" + encodeURIComponent(file), download: "", text: row.path})
                           : el("span", {className: "mono", text: row.path});
          var details = el("td", {text: lineageDetails(row)});
          if (row.kind === "image" && file) {  // the series' last image
            details.prepend(el("img", {className: "lineage-image", alt: row.name, src: API + path + "/artifacts/download?path=" + encodeURIComponent(file)}));
          }
          return el("tr", {"data-name": row.name}, [el("td", {className: "mono", text: row.name}), el("td", {text: row.kind}), el("td", {}, [where]),
                                                         el("td", {text: typeof summary.size === "number" ? summary.size + " bytes" : ""}), details]);
        }));
        if (!answer.results.length) body.appendChild(el("tr", {}, [el("td", {className: "text-muted", colSpan: 5, text: "nothing logged"})]));
      }).catch(function (failure) { table.querySelector("tbody").replaceChildren(el("tr", {}, [el("td", {className: "text-danger", colSpan: 5, text: failure.message})])); });
    }

    var sweep = root.querySelector("#sweep");

    function tick() {
      var wasFinal = isFinal();
      Promise.all([refreshStatus(), refreshLog(), refreshMetrics(), sweep ? refreshSweep(sweep, owner, project, uuid) : null])
        .catch(function (failure) { result.textContent = failure.message; result.className = "text-danger"; })
        .then(function () {
          if (!isFinal()) window.setTimeout(tick, 2000);
          // what the run wrote between this look and its end
          else if (!wasFinal) refreshLog().then(refreshMetrics);
        });
    }

    var stop = root.querySelector("#stop-run");
    if (stop) stop.addEventListener("click", function () {
      if (!window.confirm("Stop this run?")) return;
      stop.disabled = true;
      api("POST", path + "/stop").then(function (run) {
        result.textContent = "stopping"; result.className = "text-success";
        status = run.status; if (isFinal()) refreshStatus(); else tick();
      }).catch(function (failure) { result.textContent = failure.message; result.className = "text-danger"; })
        .then(function () { stop.disabled = false; });
    });
    root.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.dataset.action;
        api("POST", path + "/" + action, {}).then(function (run) {
          window.location.assign(root.dataset.runUrl.replace("UUID", run.uuid));
        }).catch(function (failure) { result.textContent = failure.message; result.className = "text-danger"; });
      });
    });
    var tagsForm = root.querySelector("#tags-form");
    if (tagsForm) tagsForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var tags = tagsForm.elements.tags.value.split(",").map(function (tag) { return tag.trim(); }).filter(Boolean);
      api("PATCH", path, {tags: tags}).then(function (run) {
        var holder = root.querySelector("#tags");
        holder.replaceChildren.apply(holder, run.tags.map(function (tag) { return el("span", {className: "label label-default", text: tag}); }));
        result.textContent = "tags saved"; result.className = "text-success";
      }).catch(function (failure) { result.textContent = failure.message; result.className = "text-danger"; });
    });
    refreshArtifacts("", root.querySelector("#artifacts"));
    refreshLineage(root.querySelector("#lineage"));
    tick();
  }

  /* -------------------------------------------------------------------- sweep panel */

  function trialsOf(owner, project, uuid) {
    var search = new URLSearchParams({query: "pipeline:" + uuid, sort: "created_at", limit: 1000});
    return api("GET", "/" + encodeURIComponent(owner) + "/" + encodeURIComponent(project) + "/runs?" + search)
      .then(function (page) { return page.results; });
  }

  function refreshSweep(panel, owner, project, uuid) {
    return Promise.all([api("GET", runPath(owner, project, uuid)), trialsOf(owner, project, uuid)]).then(function (answers) {
      var optimizer = (answers[0].meta_info || {}).optimizer || {}, trials = answers[1];
      var finished = optimizer.finished || 0, planned = optimizer.planned;
      var bar = panel.querySelector("#sweep-bar");
      bar.style.width = (planned ? Math.round(100 * finished / planned) : 0) + "%";
      panel.querySelector("#sweep-counts").textContent = finished + " / " + (planned || "?") + " done, " + (optimizer.running || 0) + " in flight";
      var best = optimizer.best, shown = panel.querySelector("#sweep-best");
      if (best) {
        shown.replaceChildren(el("a", {className: "mono", href: "/projects" + runPath(owner, project, best.run_uuid),
                                       text: "#" + best.index}), " " + best.metric + " = " + formatValue(best.value));
      }
      var select = panel.querySelector("#sweep-metric");
      var names = {};
      trials.forEach(function (trial) { Object.keys(trial.metrics || {}).forEach(function (name) { names[name] = true; }); });
      var wanted = select.value || (best && best.metric) || Object.keys(names).sort()[0];
      if (Object.keys(names).sort().join() !== Array.from(select.options).map(function (o) { return o.value; }).join()) {
        select.replaceChildren.apply(select, Object.keys(names).sort().map(function (name) { return el("option", {value: name, text: name}); }));
        select.onchange = function () { drawSweep(panel, optimizer, trials, select.value); };
      }
      if (wanted) select.value = wanted;
      drawSweep(panel, optimizer, trials, wanted);
    });
  }

  function varyingParams(optimizer, trials) {
    if (optimizer.best && optimizer.best.params) return Object.keys(optimizer.best.params).sort();
    var values = {};
    trials.forEach(function (trial) {
      Object.keys(trial.inputs || {}).forEach(function (name) {
        if (typeof trial.inputs[name] === "number") (values[name] = values[name] || {})[trial.inputs[name]] = true;
      });
    });
    return Object.keys(values).filter(function (name) { return Object.keys(values[name]).length > 1; }).sort();
  }

  function drawSweep(panel, optimizer, trials, metric) {
    var scored = trials.filter(function (trial) { return metric && typeof (trial.metrics || {})[metric] === "number"; });
    var params = varyingParams(optimizer, trials);
    var coordinates = panel.querySelector("#parallel-coordinates");
    if (scored.length && params.length) {
      var dimensions = params.map(function (name) {
        return {label: name, values: scored.map(function (trial) { return Number(trial.inputs[name]); })};
      }).concat([{label: metric, values: scored.map(function (trial) { return trial.metrics[metric]; })}]);
      plot("react", coordinates, [{type: "parcoords", dimensions: dimensions,
        line: {color: scored.map(function (trial) { return trial.metrics[metric]; }), colorscale: "Viridis", showscale: true}}],
        {title: {text: "params against " + metric, y: 0.98}, height: 380, margin: {l: 60, r: 60, t: 90, b: 30}}, PLOT_CONFIG);
      coordinates.dataset.trials = scored.length;
    }
    var sequence = panel.querySelector("#trial-sequence");
    if (scored.length) {
      var ordered = scored.slice().sort(function (a, b) { return a.meta_info.matrix.index - b.meta_info.matrix.index; });
      var maximize = !optimizer.best || optimizer.best.optimization !== "minimize", running = null;
      var bests = ordered.map(function (trial) {
        var value = trial.metrics[metric];
        running = running === null ? value : (maximize ? Math.max(running, value) : Math.min(running, value));
        return running;
      });
      var indexes = ordered.map(function (trial) { return trial.meta_info.matrix.index; });
      plot("react", sequence, [
        {x: indexes, y: ordered.map(function (trial) { return trial.metrics[metric]; }), mode: "markers", name: "trial", type: "scatter"},
        {x: indexes, y: bests, mode: "lines", name: "best so far", line: {shape: "hv"}, type: "scatter"},
      ], {title: {text: metric + " by trial"}, height: 300, xaxis: {title: {text: "trial"}}, margin: {l: 50, r: 20, t: 40, b: 40}}, PLOT_CONFIG);
    }
    drawBrackets(panel.querySelector("#brackets"), optimizer, trials, metric);
  }

  function drawBrackets(holder, optimizer, trials, metric) {
    if (!optimizer.brackets) { holder.replaceChildren(); return; }
    // a trial was promoted when the next rung of its bracket has its configuration: the
    // same params but the resource (or continues it, with `resume`)
    var resource = optimizer.resource, continued = {};
    function configuration(trial) {
      var inputs = Object.assign({}, trial.inputs);
      delete inputs[resource];
      return trial.meta_info.matrix.bracket + "|" + JSON.stringify(Object.keys(inputs).sort().map(function (key) { return [key, inputs[key]]; }));
    }
    var byRung = {};
    trials.forEach(function (trial) {
      var matrix = trial.meta_info.matrix || {};
      (byRung[matrix.bracket + "|" + matrix.rung] = byRung[matrix.bracket + "|" + matrix.rung] || {})[configuration(trial)] = true;
      if (matrix.resume_from) continued[matrix.resume_from] = true;
    });
    trials.forEach(function (trial) {
      var matrix = trial.meta_info.matrix || {};
      if ((byRung[matrix.bracket + "|" + (matrix.rung + 1)] || {})[configuration(trial)]) continued[trial.uuid] = true;
    });
    holder.replaceChildren.apply(holder, optimizer.brackets.map(function (bracket) {
      return el("div", {className: "bracket", "data-bracket": bracket.bracket}, [
        el("h4", {text: "Bracket " + bracket.bracket + " (" + bracket.configurations + " configurations)"}),
        el("table", {className: "table table-condensed"}, [
          el("thead", {}, [el("tr", {}, ["Rung", optimizer.resource || "resource", "Configurations", "Created", "Finished", "Trials (promoted in bold)"].map(function (label) { return el("th", {text: label}); }))]),
          el("tbody", {}, bracket.rungs.map(function (rung) {
            var members = trials.filter(function (trial) {
              var matrix = trial.meta_info.matrix || {};
              return matrix.bracket === bracket.bracket && matrix.rung === rung.rung;
            });
            var names = members.map(function (trial) {
              var label = "#" + trial.meta_info.matrix.index + (metric && trial.metrics[metric] !== undefined ? " (" + formatValue(trial.metrics[metric]) + ")" : "");
              return el(continued[trial.uuid] ? "strong" : "span", {className: continued[trial.uuid] ? "promoted" : "", text: label + " "});
            });
            return el("tr", {"data-rung": rung.rung}, [el("td", {text: rung.rung}), el("td", {text: rung.resource}), el("td", {text: rung.configurations}),
                                                       el("td", {text: rung.created}), el("td", {text: rung.finished}), el("td", {}, names)]);
          })),
        ]),
      ]);
    }));
  }

  /* -------------------------------------------------------------------- compare page */
  function comparePage(root) {
    var owner = root.dataset.owner, project = root.dataset.project, uuids = root.dataset.runs.split(",");
    Promise.all(uuids.map(function (uuid) { return api("GET", runPath(owner, project, uuid) + "/metrics?max_points=" + POINTS); }))
      .then(function (answers) {
        var names = {};
        answers.forEach(function (answer) { Object.keys(answer.metrics).forEach(function (name) { names[name] = true; }); });
        var holder = root.querySelector("#compare-charts");
        Object.keys(names).sort().forEach(function (name) {
          var box = el("div", {className: "chart", "data-metric": name});
          holder.appendChild(box);
          var traces = answers.map(function (answer, position) {
            var points = answer.metrics[name] || [];
            return {x: points.map(function (point, index) { return point.step === null ? index : point.step; }),
                    y: points.map(function (point) { return point.value; }), mode: "lines+markers", name: uuids[position].slice(0, 8), type: "scatter"};
          });
          plot("newPlot", box, traces, {title: {text: name}, height: 320, xaxis: {title: {text: "step"}}, margin: {l: 50, r: 20, t: 40, b: 40}}, PLOT_CONFIG);
        });
      });
  }

  /* ------------------------------------------------------------------ dashboard page */
  var DASHBOARD_RUNS = 500, SERIES_RUNS = 20;

  function dashboardPage(root) {
    var owner = root.dataset.owner, project = root.dataset.project;
    var base = "/" + encodeURIComponent(owner) + "/" + encodeURIComponent(project);
    api("GET", base + "/dashboards/" + root.dataset.uuid).then(function (dashboard) {
      var spec = dashboard.spec;
      var search = new URLSearchParams({limit: DASHBOARD_RUNS, sort: spec.sort || "-created_at"});
      if (spec.query) search.set("query", spec.query);
      return api("GET", base + "/runs?" + search).then(function (page) { drawDashboard(root, spec, page, base); });
    }).catch(function (failure) {
      root.querySelector("#widgets-area").replaceChildren(el("p", {className: "text-danger", text: failure.message}));
    });
    var remove = document.getElementById("delete-dashboard");
    if (remove) remove.addEventListener("click", function () {
      if (!window.confirm("Delete this dashboard?")) return;
      api("DELETE", base + "/dashboards/" + root.dataset.uuid).then(function () { window.location.assign(root.dataset.runsUrl); });
    });
  }

  function drawDashboard(root, spec, page, base) {
    var runs = page.results;
    root.querySelector("#dashboard-count").textContent = page.count + " match" + (page.count > runs.length ? ", the first " + runs.length + " shown" : "");
    var columns = ["name", "status"].concat(spec.columns);
    var table = root.querySelector("#dashboard-runs");
    table.tHead.replaceChildren(el("tr", {}, columns.map(function (column) { return el("th", {text: column}); })));
    table.tBodies[0].replaceChildren.apply(table.tBodies[0], runs.map(function (run) {
      return el("tr", {"data-uuid": run.uuid}, columns.map(function (column) {
        if (column === "name") return el("td", {}, [el("a", {href: root.dataset.runUrl.replace("UUID", run.uuid), text: run.name || run.uuid.slice(0, 12)})]);
        if (column === "status") return el("td", {}, [badge(run.status)]);
        var parts = column.split("."), group = parts.shift();
        return el("td", {className: "mono", "data-column": column, text: formatValue((run[group] || {})[parts.join(".")])});
      }));
    }));
    var area = root.querySelector("#widgets-area");
    spec.widgets.forEach(function (widget, index) {
      var box = el("div", {className: "chart widget", "data-widget": widget.kind, "data-metric": widget.metric});
      area.appendChild(el("div", {className: "col-md-6"}, [box]));
      var scored = runs.filter(function (run) { return typeof (run.metrics || {})[widget.metric] === "number"; });
      var layout = {height: 320, margin: {l: 50, r: 20, t: 40, b: 40}};
      if (widget.kind === "histogram") {
        plot("newPlot", box, [{type: "histogram", x: scored.map(function (run) { return run.metrics[widget.metric]; }), nbinsx: widget.bins || 20}],
                              Object.assign({title: {text: "histogram of " + widget.metric}, xaxis: {title: {text: widget.metric}}}, layout), PLOT_CONFIG);
        box.dataset.values = scored.length;
      } else if (widget.kind === "metric_vs_param") {
        var points = scored.filter(function (run) { return (run.inputs || {})[widget.param] !== undefined; });
        plot("newPlot", box, [{type: "scatter", mode: "markers", x: points.map(function (run) { return run.inputs[widget.param]; }),
                                     y: points.map(function (run) { return run.metrics[widget.metric]; }),
                                     text: points.map(function (run) { return run.name || run.uuid.slice(0, 8); })}],
                              Object.assign({title: {text: widget.metric + " against " + widget.param}, xaxis: {title: {text: widget.param}}, yaxis: {title: {text: widget.metric}}}, layout), PLOT_CONFIG);
        box.dataset.values = points.length;
      } else {
        var shown = runs.slice(0, SERIES_RUNS);
        Promise.all(shown.map(function (run) {
          return api("GET", base + "/runs/" + run.uuid + "/metrics?names=" + encodeURIComponent(widget.metric) + "&max_points=500");
        })).then(function (answers) {
          var traces = answers.map(function (answer, position) {
            var series = answer.metrics[widget.metric] || [];
            return {type: "scatter", mode: "lines", name: shown[position].name || shown[position].uuid.slice(0, 8),
                    x: series.map(function (point, step) { return point.step === null ? step : point.step; }), y: series.map(function (point) { return point.value; })};
          }).filter(function (trace) { return trace.y.length; });
          plot("newPlot", box, traces, Object.assign({title: {text: widget.metric + " over steps"}, xaxis: {title: {text: "step"}}}, layout), PLOT_CONFIG);
          box.dataset.values = traces.length;
        });
      }
    });
  }

  /* ------------------------------------------------------------------ settings page */
  function settingsPage(root) {
    var projectPath = "/" + encodeURIComponent(root.dataset.owner) + "/" + encodeURIComponent(root.dataset.project);
    var base = projectPath + "/members";
    var queueForm = root.querySelector("#project-queue");
    queueForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var done = queueForm.querySelector(".form-done"), error = queueForm.querySelector(".form-error");
      done.textContent = ""; error.textContent = "";
      api("PATCH", projectPath, {settings: {queue: queueForm.elements.queue.value || null}})
        .then(function (project) { done.textContent = "Saved: new runs go to " + (project.settings.queue || "default") + "."; })
        .catch(function (failure) { error.textContent = failure.message; });
    });
    var table = root.querySelector("#notifications"), notifyForm = root.querySelector("#add-notification");
    var notifications = JSON.parse(table.dataset.notifications);
    function showNotifications() {
      var body = table.querySelector("tbody");
      if (!notifications.length) { body.replaceChildren(el("tr", {}, [el("td", {colspan: "3", text: "None: only the runs' own hooks notify."})])); return; }
      body.replaceChildren.apply(body, notifications.map(function (entry, position) {
        var remove = notifyForm ? el("button", {className: "btn btn-link btn-xs", text: "remove"}) : el("span");
        remove.addEventListener("click", function () {
          saveNotifications(notifications.filter(function (_, other) { return other !== position; }));
        });
        return el("tr", {"data-connection": entry.connection}, [el("td", {text: entry.connection}), el("td", {text: entry.trigger}), el("td", {}, [remove])]);
      }));
    }
    function saveNotifications(wanted) {
      var error = notifyForm.querySelector(".form-error");
      error.textContent = "";
      return api("PATCH", projectPath, {settings: {notifications: wanted}})
        .then(function (project) { notifications = project.settings.notifications; showNotifications(); })
        .catch(function (failure) { error.textContent = failure.message; });
    }
    if (notifyForm) notifyForm.addEventListener("submit", function (event) {
      event.preventDefault();
      saveNotifications(notifications.concat([{connection: notifyForm.elements.connection.value, trigger: notifyForm.elements.trigger.value}]));
    });
    showNotifications();
    var form = root.querySelector("#add-member");
    function load() {
      api("GET", base + "?limit=1000").then(function (page) {
        var body = root.querySelector("#members tbody");
        body.replaceChildren.apply(body, page.results.map(function (member) {
          var remove = form ? el("button", {className: "btn btn-link btn-xs", text: "remove"}) : el("span");
          remove.addEventListener("click", function () {
            if (!window.confirm("Remove " + member.user + " from the project?")) return;
            api("DELETE", base + "/" + encodeURIComponent(member.user)).then(load)
              .catch(function (failure) { form.querySelector(".form-error").textContent = failure.message; });
          });
          return el("tr", {"data-user": member.user}, [el("td", {text: member.user}), el("td", {text: member.role}), el("td", {}, [remove])]);
        }));
      });
    }
    if (form) form.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = form.querySelector(".form-error");
      error.textContent = "";
      api("POST", base, {user: form.elements.user.value.trim(), role: form.elements.role.value})
        .then(function () { form.reset(); load(); })
        .catch(function (failure) { error.textContent = failure.message; });
    });
    load();
  }

  /* ---------------------------------------------------------------------- queues page */
  function queuesPage(root) {
    var base = "/orgs/" + encodeURIComponent(root.dataset.owner) + "/queues";

    function number(input) {
      return input.value.trim() === "" ? undefined : Number(input.value);
    }

    function fail(holder) {
      return function (failure) {
        var fields = failure.payload && failure.payload.errors ? Object.keys(failure.payload.errors) : [];
        holder.textContent = failure.message + (fields.length ? ": " + fields.map(function (field) {
          return field + " " + failure.payload.errors[field].join("; ");
        }).join(", ") : "");
      };
    }

    root.querySelectorAll("tr[data-queue]").forEach(function (row) {
      var path = base + "/" + encodeURIComponent(row.dataset.queue), error = row.querySelector(".form-error");
      var save = row.querySelector('[data-action="save"]'), remove = row.querySelector('[data-action="delete"]');
      if (save) save.addEventListener("click", function () {
        error.textContent = "";
        api("PATCH", path, {priority: number(row.querySelector('[name="priority"]')),
                            concurrency: number(row.querySelector('[name="concurrency"]'))})
          .then(function () { window.location.reload(); }).catch(fail(error));
      });
      if (remove) remove.addEventListener("click", function () {
        if (!window.confirm("Delete the queue " + row.dataset.queue + "?")) return;
        error.textContent = "";
        api("DELETE", path).then(function () { window.location.reload(); }).catch(fail(error));
      });
    });
    var form = document.getElementById("create-queue");
    if (form) form.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = form.querySelector(".form-error");
      error.textContent = "";
      api("POST", base, {name: form.elements.name.value.trim(), priority: number(form.elements.priority),
                         concurrency: number(form.elements.concurrency)})
        .then(function () { window.location.reload(); }).catch(fail(error));
    });
  }

  function start() {
    var node;
    if ((node = document.getElementById("create-project"))) projectsPage(node);
    if ((node = document.getElementById("runs-page"))) runsPage(node);
    if ((node = document.getElementById("run-page"))) runPage(node);
    if ((node = document.getElementById("settings-page"))) settingsPage(node);
    if ((node = document.getElementById("compare-page"))) comparePage(node);
    if ((node = document.getElementById("dashboard-page"))) dashboardPage(node);
    if ((node = document.getElementById("queues-page"))) queuesPage(node);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

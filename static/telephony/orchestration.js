// Orchestration page: keeps the backfill's progress bar current without a reload.
(function () {
  "use strict";
  function start() {
    var section = document.getElementById("backfill-progress");
    if (!section) { return; }
    var url = section.getAttribute("data-url");
    function put(name, value) {
      section.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
        el.textContent = value;
      });
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data || !data.run) { return; }
          // Each figure from its one source, as the page was drawn (admin_orchestration.py).
          Object.keys(data.month || {}).forEach(function (name) {
            document.querySelectorAll('[data-month="' + name + '"]').forEach(function (el) {
              el.textContent = data.month[name];
            });
          });
          var run = data.run;
          section.setAttribute("data-status", run.status);
          section.querySelector("progress").value = run.percent;
          put("status_label", run.status_label);
          put("done", run.done.toLocaleString());
          put("total", run.total.toLocaleString());
          put("turned_mobile", run.turned_mobile.toLocaleString());
          put("spent", run.spent);
          put("at_risk", run.at_risk);
          put("lookups", run.lookups.toLocaleString());
          put("failed", run.failed.toLocaleString());
          put("time_left", run.time_left);
          put("message", run.message);
          var row = document.querySelector('tr[data-run="' + run.id + '"]');
          if (row) {
            ["status_label", "done", "lookups", "turned_mobile", "spent", "at_risk"].forEach(function (name) {
              var cell = row.querySelector('[data-run-field="' + name + '"]');
              var value = run[name];
              if (cell) { cell.textContent = typeof value === "number" ? value.toLocaleString() : value; }
            });
          }
          if (run.running) { window.setTimeout(poll, 1500); }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    poll();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

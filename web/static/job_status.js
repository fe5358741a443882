// Follows a job on its status page by polling the JSON API until the job ends.
(function () {
  "use strict";
  var section = document.getElementById("job");
  if (!section) return;
  var statusUrl = section.dataset.statusUrl;
  var statusText = document.getElementById("job-status");
  var errorText = document.getElementById("job-error");
  var progress = document.getElementById("job-progress");
  var delay = 500;

  function show(job) {
    section.dataset.status = job.status;
    section.dataset.final = String(job.final);
    statusText.textContent = job.label;
    document.title = job.label + " · FibTastic";
    errorText.textContent = job.error || "";
    errorText.hidden = !job.error;
    progress.hidden = job.final;
  }

  function poll() {
    fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (job) {
        show(job);
        delay = 1000;
        if (!job.final) window.setTimeout(poll, delay);
      })
      .catch(function () {
        // Back off while the server is unreachable, up to 15 s between tries.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }

  // Whether a status is final is decided on the server (web/job_status.py).
  if (section.dataset.final !== "true") window.setTimeout(poll, delay);
})();

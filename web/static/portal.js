// Progressive enhancement only: every page works without this file.
"use strict";

// "Select all on this page" in the guest table.
document.addEventListener("change", (event) => {
  if (event.target.id !== "select-all") return;
  for (const box of document.querySelectorAll('#guests input[name="email"]')) {
    box.checked = event.target.checked;
  }
});

// Live progress of a job: poll its JSON while it runs, then reload once for the final state.
function pollJob() {
  const card = document.getElementById("job");
  if (!card || card.dataset.status !== "running") return;
  const tick = async () => {
    try {
      const response = await fetch(card.dataset.progressUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const job = await response.json();
      document.getElementById("job-status").textContent = job.status;
      const bar = document.getElementById("job-bar");
      if (bar) { bar.value = job.percent; bar.textContent = job.percent + "%"; }
      const p = job.progress;
      const counts = document.getElementById("job-counts");
      if (p && counts) {
        counts.textContent = `${p.done} done · ${p.skipped} skipped · ${p.failed} failed of ${p.total}`;
        const phase = document.getElementById("job-phase");
        if (phase) phase.textContent = p.phase;
      }
      if (job.status !== "running") { window.location.reload(); return; }
    } catch (error) { /* the next tick tries again */ }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 500);
}
document.addEventListener("DOMContentLoaded", pollJob);

// The jobs list: each running bulk job's status and bar follow its progress query.
function pollJobList() {
  const live = [...document.querySelectorAll(".live-status")];
  if (!live.length) return;
  const tick = async () => {
    let running = 0;
    for (const status of live) {
      if (status.dataset.done) continue;
      try {
        const response = await fetch(status.dataset.progressUrl, { credentials: "same-origin" });
        if (!response.ok) continue;
        const job = await response.json();
        status.textContent = job.status;
        status.dataset.polled = "1";
        status.className = `status s-${job.status} live-status`;
        const bar = status.nextElementSibling;
        if (bar) bar.value = job.percent;
        if (job.status === "running") running += 1; else status.dataset.done = "1";
      } catch (error) { running += 1; }
    }
    if (running) setTimeout(tick, 1500);
  };
  setTimeout(tick, 500);
}
document.addEventListener("DOMContentLoaded", pollJobList);

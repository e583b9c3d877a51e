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

// The dashboard's only script: regions with data-refresh-url are fetched again every
// data-refresh-seconds and replaced in place. Without it every page still works (reload).
"use strict";

function refreshRegion(region) {
  const url = region.dataset.refreshUrl;
  const seconds = Number(region.dataset.refreshSeconds) || 10;
  const again = () => window.setTimeout(tick, seconds * 1000);
  async function tick() {
    if (document.hidden) { again(); return; }
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected || response.status === 401) { window.location.reload(); return; }
      if (response.ok) { region.innerHTML = await response.text(); region.dataset.refreshedAt = String(Date.now()); }
    } catch (error) {
      // Offline for a moment: try again at the next tick.
    }
    again();
  }
  again();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh-url]").forEach(refreshRegion);
});

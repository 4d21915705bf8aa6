// Sluice console: the only script. Pages work without it; it adds the live
// follow of the record browser (server-sent events).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const btn = document.getElementById("follow");
  const body = document.getElementById("records-body");
  if (!btn || !body) return;
  const status = document.getElementById("follow-status");
  let es = null;
  const stop = () => {
    if (es) es.close();
    es = null;
    btn.textContent = "Follow live";
    btn.setAttribute("aria-pressed", "false");
    status.textContent = "";
  };
  btn.addEventListener("click", () => {
    if (es) { stop(); return; }
    es = new EventSource(btn.getAttribute("data-src"));
    btn.textContent = "Stop following";
    btn.setAttribute("aria-pressed", "true");
    status.textContent = "Connecting…";
    es.addEventListener("ready", () => { status.textContent = "Following: new records appear at the bottom."; });
    es.addEventListener("record", (ev) => {
      const t = document.createElement("template");
      t.innerHTML = ev.data; // server-rendered, escaped by html/template
      const empty = document.getElementById("records-empty");
      if (empty) empty.remove();
      body.append(t.content);
    });
    es.addEventListener("notice", (ev) => { status.textContent = ev.data; });
    es.addEventListener("failure", (ev) => { stop(); status.textContent = ev.data; });
    es.onerror = () => {
      // Closed for good (an error answer, say a refused permission); a
      // dropped stream is retried by the browser and stays open.
      if (es && es.readyState === EventSource.CLOSED) { stop(); status.textContent = "The live stream is unavailable."; }
    };
  });
});

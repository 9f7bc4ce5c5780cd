// The pages' only script: remember the token (this browser only), refresh the cameras, send labels.
"use strict";

const tokenInput = document.getElementById("token");
if (tokenInput) {
  tokenInput.value = localStorage.getItem("video-anomaly-token") || "";
  tokenInput.addEventListener("change", () => localStorage.setItem("video-anomaly-token", tokenInput.value));
}

function setText(row, cls, text) {
  const cell = row.querySelector("." + cls);
  if (cell) cell.textContent = text;
}

async function pollCameras(ms) {
  try {
    const r = await fetch("/api/cameras");
    if (r.ok) {
      for (const c of await r.json()) {
        const row = document.querySelector(`tr[data-camera="${CSS.escape(c.camera)}"]`);
        if (!row) continue;
        row.className = "state-" + c.state + (c.in_event ? " in-event" : "");
        setText(row, "state", c.state + (c.in_event ? " (event)" : ""));
        setText(row, "fps", c.fps ?? "");
        setText(row, "last", c.last_frame ?? "");
        setText(row, "score", `${c.score ?? ""} / ${c.threshold ?? ""}`);
        setText(row, "events", c.events);
      }
    }
  } finally {
    setTimeout(() => pollCameras(ms), ms);
  }
}

for (const button of document.querySelectorAll("button.mark")) {
  button.addEventListener("click", async () => {
    const message = document.getElementById("message");
    const token = tokenInput ? tokenInput.value : "";
    const buttons = document.querySelectorAll("button.mark");
    buttons.forEach((b) => (b.disabled = true)); // one request at a time: a double click marks once
    let r;
    try {
      r = await fetch(`/api/events/${button.dataset.id}/label`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(token ? { Authorization: "Bearer " + token } : {}) },
        body: JSON.stringify({ label: button.dataset.label }),
      });
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
    const body = await r.json().catch(() => ({}));
    if (r.ok) {
      document.getElementById("label").textContent = body.label ?? "none";
      message.className = "";
      message.textContent = "saved" + (body.feedback ? ` (${body.feedback})` : "");
    } else {
      message.className = "error";
      message.textContent = `refused (HTTP ${r.status}): ${body.detail ?? ""}`;
    }
  });
}

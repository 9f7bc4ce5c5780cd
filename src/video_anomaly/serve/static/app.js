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

function sig3(v) {
  return v === null || v === undefined ? "" : String(Number(v.toPrecision(3)));
}

// The live view: the page loads with the latest frame (a stream never "finishes loading", so it would hold the
// page's load event), then the <img> follows the camera's MJPEG stream, reopened when it ends (the server closes
// each after a while, or restarts) or fails (no frame yet).
function keepLive(img) {
  if (!img) return;
  const stream = img.dataset.stream;
  const open = () => (img.src = `${stream}?t=${Date.now()}`);
  img.addEventListener("error", () => setTimeout(open, 1000));
  open();
}

// The object's box over its clip: the curve's rows [seconds from start, score, x0, y0, x1, y1, ...] give the box
// at each moment; the clip starts at the first row (the pre-roll).
function followBox(video, box) {
  const data = document.getElementById("curve-data");
  if (!video || !box || !data) return;
  const rows = JSON.parse(data.textContent || "[]").filter((r) => r.length >= 6);
  if (!rows.length) return;
  const t0 = rows[0][0];
  const place = () => {
    if (video.videoWidth) {
      const t = t0 + video.currentTime;
      let row = rows[0];
      for (const r of rows) if (r[0] <= t + 1e-6) row = r;
      const sx = video.clientWidth / video.videoWidth, sy = video.clientHeight / video.videoHeight;
      const s = Math.min(sx, sy), ox = (video.clientWidth - video.videoWidth * s) / 2;
      const oy = (video.clientHeight - video.videoHeight * s) / 2;
      Object.assign(box.style, { left: `${ox + row[2] * s}px`, top: `${oy + row[3] * s}px`,
        width: `${(row[4] - row[2]) * s}px`, height: `${(row[5] - row[3]) * s}px` });
      box.hidden = false;
    }
    requestAnimationFrame(place);
  };
  requestAnimationFrame(place);
}

async function pollCameras(ms) {
  try {
    const r = await fetch("/api/cameras");
    if (r.ok) {
      for (const c of await r.json()) {
        const row = document.querySelector(`[data-camera="${CSS.escape(c.camera)}"]`);
        if (!row) continue;
        row.className = "state-" + c.state + (c.in_event ? " in-event" : "");
        setText(row, "state", c.state + (c.in_event ? " (event)" : ""));
        setText(row, "fps", c.fps ?? "");
        setText(row, "last", c.last_frame ?? "");
        setText(row, "score", `${sig3(c.score)} / ${sig3(c.threshold)}`);
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

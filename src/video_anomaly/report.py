"""The self-contained HTML report of a folder of scored recordings (``recordings.score_recording``).

``build_report`` turns a folder of those files into ``report.html``: images embedded as data URIs, overlay
videos linked by relative path, no script and no external resource.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

from .recordings import _safe


def _data_uri(path: Path, mime: str = "image/png") -> str | None:
    if not path.is_file():
        return None
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table.events{border-collapse:collapse;margin:.5em 0} table.events td,table.events th{border:1px solid #ccc;
padding:4px 8px;text-align:right;vertical-align:middle} img.regularity{max-width:100%} .muted{color:#777}
"""


def build_report(run_dir, *, out=None, title: str | None = None) -> Path:
    """Write the HTML page for every ``*.scores.json`` under ``run_dir``; return its path."""
    from .errors import DataError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(run_dir, "run folder not found")
    out = Path(out) if out else run_dir / "report.html"
    records = sorted(run_dir.rglob("*.scores.json"))
    if not records:
        raise DataError(run_dir, "no *.scores.json here: run `video-anomaly score ... --out RUN` first")
    title = title or f"video-anomaly report: {run_dir.name}"
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="muted">{len(records)} video(s). Scores are live-protocol (causal, calibrated on normal '
        "footage); shaded regions of the curves are ground-truth abnormal frames where labels exist.</p>",
    ]
    for rec_path in records:
        rec = json.loads(rec_path.read_text())
        folder = rec_path.parent
        name = rec.get("video", rec_path.stem)
        parts.append(f'<section class="video" id="{e(_safe(name))}"><h2>{e(name)}</h2>')
        parts.append(
            f"<p>{rec.get('n_frames', 0)} frames at {rec.get('fps', 0):g} fps; "
            f"score <code>{e(str(rec.get('score_name')))}"
            f"</code>, threshold {rec.get('threshold', float('nan')):.4g} (target false-alarm rate "
            f"{rec.get('target_far', float('nan')):g}); {len(rec.get('events', []))} event(s).</p>"
        )
        uri = _data_uri(folder / rec.get("regularity_png", ""))
        if uri:
            parts.append(f'<img class="regularity" alt="regularity curve of {e(name)}" src="{uri}">')
        if rec.get("overlay") and (folder / rec["overlay"]).is_file():
            rel = Path(os.path.relpath(folder / rec["overlay"], out.parent))
            parts.append(
                f'<p><a class="overlay" href="{e(rel.as_posix())}">overlay video ({e(rec["overlay"])})</a></p>'
            )
        events = rec.get("events", [])
        if events:
            head = ("#", "start frame", "end frame", "start s", "end s", "peak score", "box (x0, y0, x1, y1)", "peak")
            parts.append('<table class="events"><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr>")
            for k, ev in enumerate(events):
                thumb = _data_uri(folder / ev["thumbnail"]) if ev.get("thumbnail") else None
                img = f'<img class="thumb" alt="event {k} at frame {ev["peak_frame"]}" src="{thumb}">' if thumb else ""
                parts.append(
                    f'<tr class="event"><td>{k}</td><td>{ev["start_frame"]}</td><td>{ev["end_frame"]}</td>'
                    f"<td>{ev['start_time']:.2f}</td><td>{ev['end_time']:.2f}</td><td>{ev['peak_score']:.3g}</td>"
                    f"<td>{e(str(ev.get('bbox')))}</td><td>{img}</td></tr>"
                )
            parts.append("</table>")
        else:
            parts.append('<p class="no-events">No event above the threshold.</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out

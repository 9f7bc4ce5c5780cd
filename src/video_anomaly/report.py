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

from .outputs import safe_name as _safe


def _num(value, spec: str = "") -> str:
    """A number from ``scores.json`` formatted with ``spec``, HTML-escaped; anything else (a tampered or old file)
    is shown as escaped text, never as markup."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return html.escape(format(value, spec))
    return html.escape(str(value))


def _data_uri(path: Path, mime: str = "image/png") -> str | None:
    if not isinstance(path, Path) or not path.is_file():
        return None
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _inside(folder: Path, name) -> Path | None:
    """``folder / name`` when ``name`` is a plain file name (no folder part), else None."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        return None
    return folder / name


def _read_record(path: Path) -> dict:
    """One ``*.scores.json`` as a dict; a truncated, hand-edited or foreign file is one error naming it."""
    from .errors import DataError

    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(path, f"not a readable scores file ({exc}): score the recording again") from None
    if not isinstance(rec, dict):
        raise DataError(path, f"not a scores file (a JSON {type(rec).__name__}, not an object)")
    return rec


def _titles(run_dir: Path, loaded: list[tuple[Path, dict]]) -> list[str]:
    """Each recording's title: its path relative to the folder common to all recorded paths (``cam1/video.mp4``
    and ``cam2/video.mp4``, not ``video.mp4`` twice); records without a path (older files) keep their name."""
    paths = [r.get("path") if isinstance(r.get("path"), str) and "://" not in r["path"] else None for _, r in loaded]
    absolute = [p for p in paths if p and os.path.isabs(p)]
    root = None
    if absolute:
        root = os.path.commonpath(absolute)
        if len(absolute) == 1 or root in absolute:  # one file (or one file in the list is the root): its folder
            root = os.path.dirname(root)
    out = []
    for (rec_path, rec), p in zip(loaded, paths):
        if p and root is not None and os.path.isabs(p):
            out.append(Path(os.path.relpath(p, root)).as_posix())
        else:
            out.append(str(rec.get("video", rec_path.name.removesuffix(".scores.json"))))
    return out


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table.events{border-collapse:collapse;margin:.5em 0} table.events td,table.events th{border:1px solid #ccc;
padding:4px 8px;text-align:right;vertical-align:middle} img.regularity{max-width:100%} .muted{color:#777}
.guard{color:#a40}
"""


def build_report(run_dir, *, out=None, title: str | None = None) -> Path:
    """Write the HTML page for every ``*.scores.json`` under ``run_dir``; return its path."""
    from .errors import DataError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(run_dir, "run folder not found")
    out = Path(out) if out else run_dir / "report.html"
    loaded = _load_records(run_dir)
    title = title or f"video-anomaly report: {run_dir.name}"
    names = _titles(run_dir, loaded)
    parts = _page_head(title, loaded) + _events_summary([r for _, r in loaded], names)
    for (rec_path, rec), name in zip(loaded, names):
        parts += _video_section(rec_path, rec, name, run_dir, out)
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def _load_records(run_dir: Path) -> list[tuple[Path, dict]]:
    """``(file, record)`` for each ``*.scores.json`` under ``run_dir`` (sorted), or for each recording of an
    ``archive`` output; a ``DataError`` when there is none."""
    from .errors import DataError

    records = sorted(run_dir.rglob("*.scores.json"))
    loaded = [(p, _read_record(p)) for p in records]
    if not records and (run_dir / "archive.json").is_file():  # an `archive` output: its recordings' records
        from .archive import report_records

        loaded = [(run_dir / "archive.json", r) for r in report_records(run_dir)]
    if not loaded:
        raise DataError(run_dir, "no *.scores.json here: run `video-anomaly score ... --out RUN` first")
    return loaded


def _page_head(title: str, loaded: list[tuple[Path, dict]]) -> list[str]:
    """The page up to the first video: title, how to read the curves, and what the alarms did on labelled ones."""
    from .live.recordings import labelled_summary, summary_lines

    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="muted">{len(loaded)} video(s). Each curve is the score the alarm uses, in its own units '
        "(live protocol: causal, calibrated on normal footage), with the threshold as a dashed line, alarm frames "
        "shaded red and ground-truth abnormal frames grey where labels exist.</p>",
    ]
    names = {str(r.get("score_name")) for _, r in loaded}
    lines = summary_lines(labelled_summary([r for _, r in loaded]), ", ".join(sorted(names)))
    if lines:
        parts.append('<ul class="summary">' + "".join(f"<li>{e(x)}</li>" for x in lines) + "</ul>")
    return parts


def _video_section(rec_path: Path, rec: dict, name: str, run_dir: Path, out: Path) -> list[str]:
    """One recording's section: its numbers, guard lines, score curve, overlay link and events."""
    e = html.escape
    folder = rec_path.parent
    # The id comes from the record's own file name, unique in the run folder (titles may repeat a name); an
    # archive's records share archive.json, and their camera/name is unique there.
    scores_file = rec_path.name.endswith(".scores.json")
    key = rec_path.relative_to(run_dir).as_posix().removesuffix(".scores.json") if scores_file else str(name)
    anchor = _safe(key)
    parts = [f'<section class="video" id="{e(anchor)}"><h2>{e(name)}</h2>']
    events = rec.get("events", [])
    events = events if isinstance(events, list) else []
    parts.append(
        f"<p>{_num(rec.get('n_frames', 0))} frames at {_num(rec.get('fps', 0), 'g')} fps; "
        f"score <code>{e(str(rec.get('score_name')))}"
        f"</code>, threshold {_num(rec.get('threshold', float('nan')), '.4g')} (target false-alarm rate "
        f"{_num(rec.get('target_far', float('nan')), 'g')}); {len(events)} event(s).</p>"
    )
    # The guard's lines (footage that does not fit the detector) come before anything read from the scores.
    for msg in rec.get("guard") or []:
        parts.append(f'<p class="guard"><strong>{e(str(msg))}</strong></p>')
    # Image and video names come from the file too: only plain names inside the run folder are followed.
    uri = _data_uri(_inside(folder, rec.get("score_png") or rec.get("regularity_png")))
    if uri:
        parts.append(f'<img class="regularity" alt="score curve of {e(name)}" src="{e(uri)}">')
    overlay = _inside(folder, rec.get("overlay"))
    if overlay is not None and overlay.is_file():
        rel = Path(os.path.relpath(overlay, out.parent))
        parts.append(
            f'<p><a class="overlay" href="{e(rel.as_posix())}">overlay video ({e(str(rec["overlay"]))})</a></p>'
        )
    if events:
        parts += _events_table(events, folder, rec.get("scores"))
    if events and scores_file:  # feedback reads the frames of a `score` output (an archive keeps no recording path)
        stem = rec_path.name[: -len(".scores.json")]
        parts.append(
            f'<p class="muted">An event that is normal for this camera: <code>video-anomaly feedback '
            f"{e(str(folder))} {e(stem)}:ID --normal</code> adds it to the detector's normal footage.</p>"
        )
    if not events:
        parts.append('<p class="no-events">No event above the threshold.</p>')
    parts.append("</section>")
    return parts


def _events(rec: dict) -> list[dict]:
    """A record's events that are objects (a tampered file's others are left out of the summary)."""
    events = rec.get("events")
    return [ev for ev in events if isinstance(ev, dict)] if isinstance(events, list) else []


def _events_summary(records: list[dict], names: list[str]) -> list[str]:
    """What an operator reads first, labels or not: the events of each recording, the longest and the highest."""
    e = html.escape
    found = [(name, ev) for rec, name in zip(records, names) for ev in _events(rec)]
    counts = ", ".join(f"{e(name)}: {len(_events(rec))}" for rec, name in zip(records, names))
    items = [f"{len(found)} event(s) in {len(records)} recording(s) ({counts})"]

    def duration(item) -> float:
        a, b = _float(item[1].get("start_time")), _float(item[1].get("end_time"))
        return b - a if b >= a else -1.0

    timed = [x for x in found if duration(x) >= 0]
    if timed:
        name, ev = max(timed, key=duration)
        items.append(f"longest: event {_num(ev.get('id'))} of {e(name)}, {duration((name, ev)):.1f} s "
                     f"(frames {_num(ev.get('start_frame'))}-{_num(ev.get('end_frame'))})")  # fmt: skip
    peaked = [x for x in found if _float(x[1].get("peak_score")) == _float(x[1].get("peak_score"))]
    if peaked:
        name, ev = max(peaked, key=lambda x: _float(x[1].get("peak_score")))
        items.append(f"highest: event {_num(ev.get('id'))} of {e(name)}, peak region score "
                     f"{_num(ev.get('peak_score'), '.3g')} at frame {_num(ev.get('peak_frame'))}")  # fmt: skip
    return ['<ul class="events-summary">' + "".join(f"<li>{x}</li>" for x in items) + "</ul>"]


def _float(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")


# Two peaks that differ on purpose: an event is one object, its peak the highest of its own regions; the curve is
# the frame's value (the mean of the frame's top regions, whatever object they belong to), usually lower.
_HEAD = (
    ("event", "the event's id (its thumbnail file, events.jsonl and `feedback STEM:ID` use the same number)"),
    ("start frame", ""),
    ("end frame", ""),
    ("start s", ""),
    ("end s", ""),
    ("peak (object)", "the highest calibrated score of the event's own regions, at its peak frame"),
    ("curve at peak", "the frame score plotted above (mean of the frame's highest regions) at the same frame"),
    ("box (x0, y0, x1, y1)", "the object's box at its peak frame, in frame pixels"),
    ("thumbnail", "the frame at the event's peak with its box"),
    ("kind", "anomaly (the score), tamper (the camera covered, defocused, moved or frozen: its cause) or a behaviour"),
    ("object", "with the objects cue: the class of the tracked object the box overlaps most at its peak, #track id"),
)


def _object(ev: dict) -> str:
    """``label #track_id`` of an event named by the objects cue; ``-`` for events without one."""
    label = ev.get("label")
    if not label:
        return "-"
    track = ev.get("track_id")
    return str(label) + (f" #{track}" if isinstance(track, int) and not isinstance(track, bool) else "")


def _events_table(events: list, folder: Path, scores=None) -> list[str]:
    """The events as table rows, each with its thumbnail embedded (read from ``folder``) and the curve's value
    (``scores``: the record's per-frame scores) at its peak frame beside its own peak."""
    e = html.escape
    scores = scores if isinstance(scores, list) else []
    head = "".join(f'<th title="{e(tip)}">{e(h)}</th>' if tip else f"<th>{e(h)}</th>" for h, tip in _HEAD)
    parts = [f'<table class="events"><tr>{head}</tr>']
    for k, ev in enumerate(events):
        ev = ev if isinstance(ev, dict) else {}
        ident = ev.get("id", k + 1)
        thumb = _data_uri(_inside(folder, ev.get("thumbnail")))
        alt = f"event {_num(ident)} at frame {_num(ev.get('peak_frame'))}"
        img = f'<img class="thumb" alt="{alt}" src="{e(thumb)}">' if thumb else ""
        peak = ev.get("peak_frame")
        curve = scores[peak] if isinstance(peak, int) and 0 <= peak < len(scores) else None
        # The kind (anomaly unless said: older records have none), a tamper's cause beside it, its line as a tooltip.
        kind = str(ev.get("kind") or "anomaly")
        shown = kind + (f": {ev['cause']}" if ev.get("cause") else "")
        parts.append(
            f'<tr class="event"><td>{_num(ident)}</td><td>{_num(ev.get("start_frame"))}</td>'
            f"<td>{_num(ev.get('end_frame'))}</td><td>{_num(ev.get('start_time'), '.2f')}</td>"
            f"<td>{_num(ev.get('end_time'), '.2f')}</td><td>{_num(ev.get('peak_score'), '.3g')}</td>"
            f"<td>{'-' if curve is None else _num(curve, '.3g')}</td>"
            f"<td>{e(str(ev.get('bbox')))}</td><td>{img}</td>"
            f'<td class="kind" data-kind="{e(kind)}" title="{e(str(ev.get("message") or ""))}">{e(shown)}</td>'
            f'<td class="object">{e(_object(ev))}</td></tr>'
        )
    parts.append("</table>")
    parts.append(
        '<p class="muted">peak (object): the highest score of the event\'s own regions; curve at peak: the frame '
        "score plotted above, at the same frame (the frame's highest regions, whichever object they belong to). "
        "Both are in the threshold's units.</p>"
    )
    return parts

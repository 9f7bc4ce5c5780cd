"""``watch``: a live source scored until it ends, events out, an optional overlay video (the code of
``video-anomaly watch``, ``Detector.watch``, the archive's segments and serve's workers)."""

from __future__ import annotations

from pathlib import Path

KEEP_EVENTS = 100  # closed events a run's tracker holds (without their frames): a live run's memory stays bounded


def watch(det, source, *, score: str | None = None, threshold: float | None = None, emit=None,
          overlay=None, overwrite: bool = False, end_after: int | None = None, min_length: int | None = None,
          cooldown: int | None = None, source_kw=None, on_warning=None, keep_events: int | None = KEEP_EVENTS,
          **run_kw):  # fmt: skip
    """Score a live source (``sources.open_live_source``: a camera index, a stream URL, a file; or a source
    already open) until it ends, as ``video-anomaly watch`` does. ``emit(msg)`` receives every event message
    (dict); ``overlay``: an MP4 path for the annotated video, written under a temporary name and renamed into place
    when the run ends (an existing file is replaced only with ``overwrite``; a write failure of the overlay lets
    the run go on and is said in ``stats.overlay_error``); ``run_kw``: ``runner.run_source``'s options.
    ``on_warning(line)`` hears the guard (footage that does not fit the detector); events are per object (the
    session keeps its region maps for the tracker); ``end_after``, ``min_length``, ``cooldown``: the event rules in
    frames (None: the detector's). Returns ``(session, source, tracker, stats)``: the tracker holds the last
    ``keep_events`` closed events (None: all), without their peak frames, and counts them all (``tracker.closed``);
    a live run's memory does not grow with the events it has seen."""
    import os
    from datetime import datetime

    from ..device import apply_thread_policy
    from ..errors import os_reason
    from ..outputs import check_output_file
    from .events import EventTracker
    from .overlay import OverlayWriter
    from .runner import run_source
    from .sources import open_live_source

    apply_thread_policy()
    final = None if not overlay else check_output_file(overlay, overwrite, "--overlay")
    session = det.session(score, threshold=threshold, keep_maps=True, on_warning=on_warning)
    if isinstance(source, (str, int, Path)):
        source = open_live_source(str(source), **(source_kw or {}))
    session.fps = source.fps if source.timed else None  # the guard compares the source's own rate only
    # Live, the clock of the time-of-day model is the wall clock (a file's own start is unknown here).
    start = datetime.now() if getattr(source, "live", False) else None
    tracker = EventTracker.for_detector(det, session.threshold, fps=source.fps, source=source.name, start=start,
                                        end_after=end_after, min_length=min_length, cooldown=cooldown,
                                        keep=keep_events)  # fmt: skip
    # A kill leaves no unplayable file under the overlay's name, and an earlier file is replaced only at the end.
    tmp = None if final is None else final.with_name(f".{final.name}.partial.mp4")
    writer = None
    if tmp is not None:
        writer = OverlayWriter(tmp, source.fps, session.threshold, scale=2.0 * max(session.threshold, 1e-6))
    stats = None
    try:
        stats = run_source(session, source, tracker=tracker, emit=emit or (lambda _m: None), overlay=writer, **run_kw)
    finally:
        if writer is not None:
            try:
                writer.close()
                if stats is not None and not stats.overlay_error and tmp.exists():
                    os.replace(tmp, final)
            except OSError as exc:
                if stats is None:
                    raise
                stats.overlay_error = os_reason(exc)
            finally:
                tmp.unlink(missing_ok=True)
    return session, source, tracker, stats

"""A camera worker's recording of its events: rows in the store, each event's snapshot, clip and score curve.

Events are per object (``events.EventTracker`` with region maps), so several can be open at once and each has
its own peak. The recorder runs its own tracker, fed exactly what the run's tracker is fed (``run_source``: the
frame's score, box, grayscale frame, time, region map, tamper verdict and objects; the same rules, cool-down
included), so it hears the same messages with the same ids and can
read each open object (``EventTracker.open_events``): its regions on every frame (its own score curve and box),
its peak frame with that frame's picture (its snapshot). Each event gets its own clip, pre-roll to post-roll,
whatever else opens meanwhile. Everything it keeps is bounded: the recent frames for the pre-roll, each open
object's peak frame and its curve rows (at most pre-roll + ``max_clip_s`` + 4 s of them).
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from .config import CameraConfig

STATE_EVERY_S = 1.0  # how often a live worker reports its frame rate and score
LIVE = "live"
# Fields of an event message that other trackers may add (an object detector's class, a track, the kind of event):
# stored and shown when present.
OBJECT_FIELDS = {"label": "object_label", "track_id": "track_id", "kind": "kind"}


def uid_for(camera: str, run_id: str, start_frame: int) -> str:
    """The store's key of an event: camera, the worker run that saw it and its first frame."""
    return f"{camera}/{run_id}/{start_frame}"


@dataclass
class _Frame:
    """A scored frame: index, wall time (Unix s), grayscale ``(H, W)`` uint8, frame score, region map ``(gh, gw)``
    or None, the frame's highest-region box."""

    index: int
    ts: float
    gray: np.ndarray
    score: float
    map: np.ndarray | None
    bbox: tuple


@dataclass
class _Recording:
    """An announced event being recorded: its row, its clip (None: failed or done) and, once the event has
    closed, the last frame of its post-roll (``stop``)."""

    uid: str
    event_id: int
    start_ts: float
    clip: Any = None
    clip_last: int = -1
    stop: int | None = None
    rows: list = field(default_factory=list)


def object_row(fr: _Frame, cells) -> tuple[float, list[int]]:
    """The object's score and pixel box on frame ``fr``: the highest of its regions ``cells`` ``(r0, c0, r1, c1)``
    (None, or no map: the frame's score and box)."""
    if cells is None or fr.map is None:
        return fr.score, [int(v) for v in fr.bbox or ()]
    from ..cues.base import uniform_box

    r0, c0, r1, c1 = cells
    grid = fr.map.shape
    x0, y0, _, _ = uniform_box(r0, c0, grid, fr.gray.shape[:2])
    _, _, x1, y1 = uniform_box(r1 - 1, c1 - 1, grid, fr.gray.shape[:2])
    return float(fr.map[r0:r1, c0:c1].max()), [int(x0), int(y0), int(x1), int(y1)]


class EventRecorder:
    """Turns one run's scored frames into the store's rows and media (see the module docstring).

    ``on_frame(index, t, FrameScore | None)`` in frame order, as ``run_source`` calls it; ``finish()`` when the run
    is over (closes the open events, finishes their clips). ``send(kind, **fields)`` reports to the service."""

    def __init__(self, cam: CameraConfig, store, run_id: str, threshold: float, fps: float, send, behaviour=None,
                 cooldown: int = 0):  # fmt: skip
        from ..live.events import EventTracker

        self.cam, self.store, self.run_id = cam, store, run_id
        self.threshold, self.send = threshold, send
        self.fps = fps if fps and fps > 0 else 10.0
        self.pre = round(cam.pre_roll_s * self.fps)
        self.post = round(cam.post_roll_s * self.fps)
        self.max_clip = max(1, round(cam.max_clip_s * self.fps))
        # ``behaviour``: the run's ``BehaviourScorer`` twin (``events.behaviour_scorer``), for the kinds read from
        # the tracked objects (lingering, direction, time of day); None without behaviour models. ``cooldown``: the
        # run's (the camera's, else the detector's), or the twin opens events the run's tracker holds back.
        self.tracker = EventTracker(threshold, fps=self.fps, end_after=cam.end_after, min_length=cam.min_length,
                                    source=cam.name, behaviour=behaviour, cooldown=cooldown)  # fmt: skip
        # Enough for the pre-roll of an event announced ``min_length`` frames after its start.
        self.recent: collections.deque[_Frame] = collections.deque(maxlen=self.pre + cam.min_length + 2)
        # tracker id -> its rows (index, ts, object score, box, frame score): an event that never ends keeps the last
        self.curve_max = self.pre + self.max_clip + round(4 * self.fps)
        self.objects: dict[int, collections.deque] = {}
        self.recordings: dict[int, _Recording] = {}  # tracker id -> announced event still being recorded
        self.wall0: float | None = None  # wall clock of the source's t = 0
        self.frames = 0
        self._window = (time.monotonic(), 0)
        self._last_state = 0.0
        self.fps_measured = 0.0

    def ts(self, t: float) -> float:
        if self.wall0 is None:
            self.wall0 = time.time() - t
        return self.wall0 + t

    @property
    def in_event(self) -> bool:
        return any(r.stop is None for r in self.recordings.values())

    def _media_path(self, uid: str, start_ts: float, ext: str) -> str:
        day = datetime.fromtimestamp(start_ts, timezone.utc).strftime("%Y-%m-%d")
        return f"{self.cam.name}/{day}/{uid.replace('/', '_')}{ext}"

    def _warn(self, message: str) -> None:
        self.send("warning", message=f"camera {self.cam.name}: {message}")

    # ------------------------------------------------------------------ every frame
    def on_frame(self, index: int, t: float, fs) -> None:
        ts = self.ts(t)
        self.frames += 1
        if fs is not None:
            fr = _Frame(index, ts, fs.frame, float(fs.score), fs.map, tuple(fs.bbox or ()))
            # With the frame's tracked objects (the objects cue), as `run_source` gives them: events name the object.
            # The tamper verdict too: without it tamper events were never recorded and anomaly events opened on
            # frames the run's tracker holds, so the two trackers' ids parted.
            msgs = self.tracker.update(index, fs.score, fs.bbox, fs.frame, t=t, region_map=fs.map,
                                       tamper=getattr(fs, "tamper", None),
                                       objects=getattr(fs, "objects", None))  # fmt: skip
            self._follow(fr)
            self._handle(msgs)
            self.recent.append(fr)
            for rec in list(self.recordings.values()):
                self._write_clip(rec, fr)
        for tid, rec in list(self.recordings.items()):
            if rec.stop is not None and (index >= rec.stop or rec.clip is None):
                self._finish(tid)
        self._report(ts, fs)

    def _follow(self, fr: _Frame) -> None:
        """One curve row for each open object (its regions on this frame); objects no longer open are let go."""
        open_ids = set()
        for ev, cells, _ in self.tracker.open_events():
            open_ids.add(ev.id)
            rows = self.objects.get(ev.id)
            if rows is None:  # first seen (its first frame): its pre-roll, read in its first regions
                rows = self.objects[ev.id] = collections.deque(
                    ((p.index, p.ts, *object_row(p, cells), p.score) for p in self.recent
                     if p.index >= ev.start_frame - self.pre),
                    maxlen=self.curve_max,
                )  # fmt: skip
            rows.append((fr.index, fr.ts, *object_row(fr, cells), fr.score))
        for tid in set(self.objects) - open_ids:
            if tid not in self.recordings:  # a flicker dropped by the tracker
                del self.objects[tid]

    def _handle(self, msgs: list[dict]) -> None:
        import sqlalchemy as sa

        for msg in msgs:
            try:
                if msg["type"] == "event_start":
                    self._start(msg)
                elif msg["type"] == "event":
                    self._close(msg)
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                # The database or the disk failed: say so and go on detecting (the next event may well be stored).
                self._warn(f"cannot record the {msg['type']}: {exc}")
        self.tracker.events.clear()  # closed events hold their peak frame: read above, kept no longer

    # ------------------------------------------------------------------ an event's life
    def _start(self, msg: dict) -> None:
        from .store import OPEN

        uid = uid_for(self.cam.name, self.run_id, msg["start_frame"])
        if any(r.uid == uid for r in self.recordings.values()):  # two objects that appeared on the same frame
            uid = f"{uid}.{msg['id']}"
        start_ts = self.ts(msg["start_time"])
        extra = {col: msg[key] for key, col in OBJECT_FIELDS.items() if msg.get(key) is not None}
        event_id = self.store.record(uid, camera=self.cam.name, run_id=self.run_id, start_frame=msg["start_frame"],
                                     status=OPEN, start_ts=start_ts, threshold=self.threshold, **extra)  # fmt: skip
        rec = self.recordings[msg["id"]] = _Recording(uid, event_id, start_ts)
        self._open_clip(rec, msg["start_frame"])
        self.send("event_start", id=event_id)
        self._last_state = 0.0  # the state (now in an event) goes out with this frame

    def _close(self, msg: dict) -> None:
        from .store import CLOSED

        rec = self.recordings.get(msg["id"])
        if rec is None:  # its start could not be recorded: record it whole now
            self._start({**msg, "type": "event_start"})
            rec = self.recordings[msg["id"]]
        start, peak_frame = msg["start_frame"], msg["peak_frame"]
        rows = self.objects.pop(msg["id"], ())
        extra = {col: msg[key] for key, col in OBJECT_FIELDS.items() if msg.get(key) is not None}
        values: dict[str, Any] = dict(
            end_frame=msg["end_frame"],
            status=CLOSED,
            end_ts=self.ts(msg["end_time"]),
            peak_score=float(msg["peak_score"]),
            bbox=msg["bbox"],
            # [seconds from the start, the object's score, its box x0 y0 x1 y1, the frame's score]
            curve=[[round(ts - rec.start_ts, 3), round(s, 4), *box, round(f, 4)] for _, ts, s, box, f in rows],
            **extra,
        )
        peak_ts = [ts for i, ts, *_ in rows if i == peak_frame]
        values["peak_ts"] = peak_ts[0] if peak_ts else rec.start_ts + (peak_frame - start) / self.fps
        snapshot_bytes = self._snapshot(msg, rec, values)
        self.store.record(rec.uid, **values)
        if snapshot_bytes:
            self.store.add_media_bytes(rec.uid, snapshot_bytes)
        self._last_state = 0.0
        rec.stop = msg["end_frame"] + self.post

    def _snapshot(self, msg: dict, rec: _Recording, values: dict) -> int:
        """The object's peak frame (kept by the tracker) with its box -> the event's snapshot; its size in bytes
        (0 and a warning when it cannot be written)."""
        from .media import SNAPSHOT_EXT, write_snapshot

        ev = next((e for e in self.tracker.events if e.id == msg["id"]), None)
        if ev is None or ev.peak_image is None:
            self._warn(f"event {rec.event_id}: no snapshot: the frame of its peak ({msg['peak_frame']}) is not kept")
            return 0
        rel = self._media_path(rec.uid, rec.start_ts, SNAPSHOT_EXT)
        try:
            size = write_snapshot(self.store.media / rel, ev.peak_image, msg["bbox"])
        except (OSError, ValueError) as exc:
            self._warn(f"event {rec.event_id}: cannot write the snapshot {rel}: {exc}")
            return 0
        values["snapshot"] = rel
        return size

    # ------------------------------------------------------------------ the clip
    def _open_clip(self, rec: _Recording, start_frame: int) -> None:
        from .media import CLIP_EXT, ClipWriter

        try:
            rec.clip = ClipWriter(self.store.media / self._media_path(rec.uid, rec.start_ts, CLIP_EXT), self.fps)
        except Exception as exc:  # noqa: BLE001 - no clip (PyAV missing, disk full) never stops detection
            self._warn(f"cannot write the clip: {exc}")
            return
        for fr in self.recent:
            if fr.index >= start_frame - self.pre:
                self._write_clip(rec, fr)

    def _write_clip(self, rec: _Recording, fr: _Frame) -> None:
        if rec.clip is None or fr.index <= rec.clip_last or rec.clip.frames >= self.max_clip:
            return
        if rec.stop is not None and fr.index > rec.stop:
            return
        try:
            rec.clip.write(fr.gray)
        except Exception as exc:  # noqa: BLE001 - an encoder or disk failure costs the clip, never the detection
            rec.clip.abort()
            rec.clip = None
            self._warn(f"the clip failed: {exc}")
            return
        rec.clip_last = fr.index

    def _finish(self, tid: int) -> None:
        """The event ``tid`` is closed and its post-roll written (or the run is over): its clip gets its name and
        the event is complete (``event`` to the service) once it is closed."""
        import sqlalchemy as sa

        rec = self.recordings.pop(tid)
        self.objects.pop(tid, None)
        size = 0
        if rec.clip is not None:
            try:
                size = rec.clip.close()
            except Exception as exc:  # noqa: BLE001 - a broken clip: the event stays, without it
                rec.clip.abort()
                self._warn(f"the clip failed: {exc}")
        try:
            if size:
                clip = str(rec.clip.path.relative_to(self.store.media))
                self.store.add_media_bytes(rec.uid, size, clip=clip)
            row = self.store.get_uid(rec.uid)
        except (sa.exc.SQLAlchemyError, OSError) as exc:  # a database blip never stops detection
            self._warn(f"cannot record the clip of event {rec.event_id}: {exc}")
            return
        if row is not None and row["status"] != "open":
            self.send("event", id=rec.event_id)

    def finish(self) -> None:
        """The run is over: the open events close (as the run's tracker closes them) and every clip is finished
        with what there is."""
        self._handle(self.tracker.finish())
        for tid in list(self.recordings):
            self._finish(tid)

    # ------------------------------------------------------------------ the camera's state
    def _report(self, ts: float, fs) -> None:
        now = time.monotonic()
        w0, n0 = self._window
        if now - w0 >= STATE_EVERY_S:
            self.fps_measured = (self.frames - n0) / (now - w0)
            self._window = (now, self.frames)
        if now - self._last_state >= STATE_EVERY_S:
            self._last_state = now
            self.send(
                "state",
                state=LIVE,
                fps=round(self.fps_measured, 2),
                last_frame_ts=ts,
                frames=self.frames,
                score=None if fs is None else round(float(fs.score), 4),
                threshold=self.threshold,
                in_event=self.in_event,
            )

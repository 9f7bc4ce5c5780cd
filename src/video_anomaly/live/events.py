"""Frame scores become events: runs of frames whose score stays above the alarm threshold, one per object.

Two ways, one tracker (``EventTracker``):

* **per frame span** (``update(frame, score, bbox, image, t=...)``): an event starts at the first frame whose
  score exceeds the threshold; it ends when the score has stayed at or below the threshold for ``end_after``
  consecutive scored frames (its last frame is the last one above); its box is the highest region's at the peak.
* **per object** (the same call with ``region_map=`` the frame's calibrated ``(gh, gw)`` region scores): on a frame
  whose score exceeds the threshold, the regions above the threshold form connected groups (8-neighbours); each
  group continues the open event whose last box it touches (within ``link_gap`` regions) or starts a new one.
  So two objects in one frame span (Ped2 Test004: a bicycle passing while a truck's event is open) give two
  events, each with its own box, start and end. An event ends when no group has continued it for ``end_after``
  scored frames. Regions count only on frames whose score exceeds the threshold, so per-object events never fire
  where the frame's alarm is off.

Events shorter than ``min_length`` frames are dropped as flicker (the minimum duration: an event is announced
once it has lasted ``min_length`` frames). After an event closes, ``cooldown`` frames pass before the next one
of the same place opens (per frame span: any next one; per object: one whose regions touch the closed event's
last box), so that one object flickering about the threshold pages once. The three settings are a detector's
(``DetectorConfig.min_length``, ``end_after``, ``cooldown``; ``EventTracker.for_detector``) and may be set per
run (``--min-length``, ...) or per camera in ``serve``.

Every event has a ``kind``: ``"anomaly"`` (the score's events above), ``"tamper"`` (the camera was covered,
defocused, turned or frozen: ``guard.Tamper``'s verdict on each frame, given as ``tamper=``; one event per
tamper, with its cause and fix in ``message``, and no anomaly event opens while a frame is suspected of it);
and, given a ``behaviour.BehaviourScorer`` (``behaviour=``; ``for_detector`` makes one for a detector with
behaviour models), the kinds read from the tracked objects of each frame (``update(objects=...)``):
``lingering``, ``direction``, ``time_of_day``, each with its ``label`` and ``track_id`` (``threshold`` 1: the
scorer's units). A track missing from a frame's objects, or whose box has been carried out of view
(``behaviour.in_view``), has ended (the objects cue never reuses an id).

Times are seconds from the start of the source: each frame's own time when the caller gives it (``t=``: the
presentation timestamps of a video or stream, right for variable frame rates), else ``frame / fps``. Every event
has an ``id`` (increasing in the order they start within one tracker; a flicker dropped for ``min_length`` leaves
its number unused), which ``feedback`` uses to name it.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Event kinds (``Event.kind``); serve, MQTT and the report filter by them.
ANOMALY, TAMPER = "anomaly", "tamper"
KINDS = (ANOMALY, TAMPER, "object", "lingering", "direction", "time_of_day")


@dataclass
class Event:
    """One abnormal event. Frames are source frame indices (inclusive); ``bbox`` is ``(x0, y0, x1, y1)``
    in original frame pixels (x1, y1 exclusive): at the peak frame, the highest region (per frame span) or the
    object's regions (per object)."""

    start_frame: int
    end_frame: int
    peak_frame: int
    peak_score: float
    bbox: tuple[int, int, int, int] | None
    fps: float
    threshold: float
    source: str = ""
    # Not serialised: the original frame at the peak, for thumbnails.
    peak_image: np.ndarray | None = field(default=None, repr=False)
    # Times (seconds) of the first and last frame when the source gave them; else frame / fps.
    start_t: float | None = None
    end_t: float | None = None
    id: int = 0
    # Per object: ``(frame, x0, y0, x1, y1)`` of the object's regions on each frame that continued it, in the
    # pixels of ``bbox`` (what ``feedback`` learns; not in ``to_dict``, so the live messages stay small).
    track: list[tuple[int, int, int, int, int]] = field(default_factory=list, repr=False)
    kind: str = ANOMALY
    # For kinds other than anomaly: what was found (e.g. "covered") and the line for a person, with the fix.
    cause: str | None = None
    message: str | None = None
    # With an objects cue: the class name and track id of the tracked object the box overlaps most at the peak.
    label: str | None = None
    track_id: int | None = None

    @property
    def start_time(self) -> float:
        return self.start_frame / self.fps if self.start_t is None else self.start_t

    @property
    def end_time(self) -> float:
        """The end of the last frame: its time plus one nominal frame period."""
        return (self.end_frame + 1) / self.fps if self.end_t is None else self.end_t + 1.0 / self.fps

    @property
    def length(self) -> int:
        return self.end_frame - self.start_frame + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "event",
            "id": self.id,
            "source": self.source,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start_time": round(self.start_time, 4),
            "end_time": round(self.end_time, 4),
            "peak_frame": self.peak_frame,
            "peak_score": round(float(self.peak_score), 4),
            "threshold": round(float(self.threshold), 4),
            "bbox": None if self.bbox is None else [int(v) for v in self.bbox],
            "kind": self.kind,
            **({"cause": self.cause, "message": self.message} if self.cause is not None else {}),
            **_named(self),
        }


# A behaviour event near (within this share of the frame's longer side of) one of its kind open or in its cool-down
# continues it: the same object under a new track id. On the synthetic behaviour scene (seed 0) the walker going
# against the flow was 5 tracks, 50-60 px (a quarter of 238) from one to the next.
BEHAVIOUR_NEAR = 0.25


@dataclass
class _Behaving:
    """A behaviour event of ours: its ``Event``, the last box of the tracks that raised it, when the last one
    ended, how many of the scorer's events are open on it, and whether it has closed."""

    event: Event
    box: list
    end_t: float
    refs: int = 1
    closed: bool = False


@dataclass
class _Track:
    """An open per-object event: its ``Event``, its last region box ``(r0, c0, r1, c1)`` (cells, exclusive ends),
    scored frames since a group last continued it, and whether ``event_start`` was sent."""

    event: Event
    cells: tuple[int, int, int, int]
    below: int = 0
    announced: bool = False


class EventTracker:
    """Online event detection over ``(frame, score, bbox)`` updates in frame order (see the module docstring).

    ``update(frame, score, bbox, image, t=seconds, region_map=None)``: ``t`` is the frame's time in the source
    (None: ``frame / fps``); ``region_map`` ``(gh, gw)`` the frame's calibrated region scores in the threshold's
    units (given: events per object). ``update`` returns a list of messages (dicts ready for JSON):
    ``{"type": "event_start", ...}`` once an event has lasted ``min_length`` frames (so live users hear of it
    within ``min_length`` frames) and the finished ``Event.to_dict()`` when it ends. ``finish`` closes the events
    still open at the end of a source. An object's box in frame pixels spans its regions laid evenly over
    the frame given to ``update`` (``cues.base.uniform_box``, as a cue's own ``region_box``); ``link_gap``: regions
    between a group and an open event's last box that still continue it.

    ``events``: the closed events (not the flicker), ``closed`` their count. ``keep``: None keeps them all with
    their peak frames (``score``: a recording's outputs need every one, thumbnails included); a number keeps the
    last ``keep`` only, each without its frame once its message is out (``watch`` and serve's workers: a run that
    lasts months would otherwise hold a frame per event it ever saw).
    """

    def __init__(
        self,
        threshold: float,
        *,
        fps: float,
        end_after: int = 5,
        min_length: int = 3,
        source: str = "",
        link_gap: int = 1,
        keep: int | None = None,
        cooldown: int = 0,
        behaviour=None,
    ):
        self.threshold = float(threshold)
        self.fps = float(fps) if fps and fps > 0 else 10.0
        self.end_after = max(1, int(end_after))
        self.min_length = max(1, int(min_length))
        self.cooldown = max(0, int(cooldown))
        self.source = source
        self.link_gap = max(0, int(link_gap))
        self.events: list[Event] = []
        self.closed = 0
        self.keep = None if keep is None else max(0, int(keep))
        self._open: Event | None = None
        self._below = 0
        self._announced = False
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._quiet_until = -1  # per frame span: no event opens up to this frame (the cool-down)
        self._cooling: list[tuple[tuple[int, int, int, int], int]] = []  # per object: (cells, quiet until frame)
        self._tamper: Event | None = None
        self._objects: list | None = None  # the tracked objects of the frame being updated
        self.behaviour = behaviour
        self._behaviour_open: dict[int, _Behaving] = {}  # the scorer's open event ids -> ours
        self._behaving: list[_Behaving] = []  # ours, open or in their cool-down
        self._last_objects: list | None = None
        self._times: collections.deque = collections.deque(maxlen=4096)  # (t, frame) of recent updates

    @classmethod
    def for_detector(cls, detector, threshold: float, *, fps: float, source: str = "", start=None,
                     **given) -> EventTracker:  # fmt: skip
        """A tracker with ``detector``'s event settings (``DetectorConfig.min_length``, ``end_after``,
        ``cooldown``); ``given`` overrides them where not None (a run's flags, a camera's settings). With behaviour
        models (``detector.behaviour``) it scores the tracked objects too; ``start``: the wall clock (``datetime``)
        of the source's ``t = 0`` for the time-of-day model (None: unknown, that model says nothing)."""
        cfg = detector.config
        rules = {k: getattr(cfg, k) for k in ("min_length", "end_after", "cooldown")}
        rules |= {k: v for k, v in given.items() if v is not None}
        # A live run (keep=N) keeps no closed events in the scorer either.
        rules["behaviour"] = behaviour_scorer(detector, source=source, start=start, keep=rules.get("keep") is None)
        return cls(threshold, fps=fps, source=source, **rules)

    # ------------------------------------------------------------------------------------ per frame span
    def update(
        self,
        frame: int,
        score: float,
        bbox=None,
        image: np.ndarray | None = None,
        *,
        t: float | None = None,
        region_map: np.ndarray | None = None,
        tamper=None,
        objects: list | None = None,
    ) -> list[dict[str, Any]]:
        self._objects = objects
        out = self._update_tamper(frame, score, image, t, tamper)
        if self.behaviour is not None:
            out += self._update_behaviour(frame, image, frame / self.fps if t is None else t, objects, tamper)
        if tamper is not None and tamper.suspect:
            score = -np.inf  # a frame suspected of tampering opens and continues no anomaly event
        if region_map is not None:
            return out + self._update_objects(frame, score, image, t, np.asarray(region_map, np.float32))
        above = score > self.threshold
        ev = self._open
        if ev is None:
            if above and frame > self._quiet_until:
                self._open = self._new_event(frame, score, bbox, image, t)
                self._below, self._announced = 0, False
                ev = self._open
            else:
                return out
        elif above:
            ev.end_frame, ev.end_t = frame, t
            self._below = 0
            if score > ev.peak_score:
                ev.peak_frame, ev.peak_score, ev.bbox, ev.peak_image = frame, score, bbox, image
                self._name(ev)
        else:
            self._below += 1
            if self._below >= self.end_after:
                closed = self._close()
                if closed is not None:
                    out.append(closed)
                    self._quiet_until = frame + self.cooldown
                return out
        if not self._announced and ev.length >= self.min_length:
            self._announced = True
            out.append(self._start_message(ev, frame, score))
        return out

    def _new_event(self, frame, score, bbox, image, t) -> Event:
        ev = Event(frame, frame, frame, float(score), bbox, self.fps, self.threshold, self.source, image,
                   start_t=t, end_t=t, id=self._next_id)  # fmt: skip
        self._next_id += 1
        self._name(ev)
        return ev

    def _name(self, ev: Event) -> None:
        """Name ``ev`` by the frame's tracked object (``update(objects=...)``) its box overlaps most, if any."""
        from ..cues.tracks import best_object

        hit = best_object(self._objects, ev.bbox)
        if hit is not None:
            ev.label, ev.track_id = hit.get("label"), hit.get("track_id")

    def _start_message(self, ev: Event, frame: int, score: float) -> dict[str, Any]:
        extra = {"cause": ev.cause, "message": ev.message} if ev.cause is not None else {}
        extra |= _named(ev)
        return {"type": "event_start", "id": ev.id, "source": self.source, "start_frame": ev.start_frame,
                "start_time": round(ev.start_time, 4), "frame": frame, "score": round(float(score), 4),
                "bbox": None if ev.bbox is None else [int(v) for v in ev.bbox], "kind": ev.kind, **extra}  # fmt: skip

    def _update_tamper(self, frame, score, image, t, verdict) -> list[dict[str, Any]]:
        """One tamper event while ``verdict.cause`` is set (``guard.TamperVerdict``; None: nothing found), announced
        at once (the guard has already waited for it to last) and closed on the first frame without a cause."""
        cause = None if verdict is None else verdict.cause
        ev = self._tamper
        if cause is None:
            if ev is None:
                return []
            self._tamper = None
            return [self._keep(ev, always=True)]  # (a tamper has lasted the guard's hold, whatever min_length says)
        if ev is not None:  # one event per tamper, even when its cause changes (covered, then defocused)
            if verdict.seen:  # (the frames the guard waits through before closing it are not the tamper's)
                ev.end_frame, ev.end_t = frame, t
            return []
        # It began where the guard first saw it, some frames back: the times of those frames at the nominal rate.
        since = frame if verdict.since is None else min(frame, verdict.since)
        t0 = None if t is None else t - (frame - since) / self.fps
        ev = self._new_event(since, score if np.isfinite(score) else 0.0, None, image, t0)
        ev.end_frame, ev.end_t = frame, t
        ev.kind, ev.cause, ev.message = TAMPER, cause, verdict.message
        self._tamper = ev
        return [self._start_message(ev, frame, ev.peak_score)]

    # ----------------------------------------------------------------------------------------- behaviour
    def _update_behaviour(self, frame: int, image, t: float, objects: list | None, tamper) -> list[dict[str, Any]]:
        """The frame's tracked objects through the behaviour scorer; its messages become events of ours. A repeated
        frame (the session's previous objects, the same list) says nothing new, and a frame suspected of
        tampering is held, as for anomaly events (a frozen view would make everyone linger)."""
        if objects is not None and objects is self._last_objects:
            return []
        self._last_objects = objects
        if tamper is not None and tamper.suspect:
            return []
        from .behaviour import in_view

        self._times.append((t, frame))
        msgs = []
        seen = set()
        shape = None if image is None else np.shape(image)[:2]
        for o in objects or []:
            if shape is not None and not in_view(o["box"], shape):  # carried out past the edge: gone
                continue
            seen.add(o["track_id"])
            msgs += self.behaviour.update(o["track_id"], o["label"], t, o["box"])
        for tid in set(self.behaviour.track_ids) - seen:
            msgs += self.behaviour.end_track(tid)
        return [m for m in (self._behaviour_message(msg, frame, image) for msg in msgs) if m is not None]

    def _frame_at(self, t: float) -> int:
        """The frame of time ``t`` among recent updates (the last one at or before it)."""
        ts = [a for a, _ in self._times]
        i = max(0, bisect.bisect_right(ts, t + 1e-9) - 1)
        return self._times[i][1] if self._times else 0

    def _nearby(self, kind: str, box, t: float, image) -> _Behaving | None:
        """An event of ``kind`` open, or closed less than the scorer's cool-down ago, whose last box is within
        ``BEHAVIOUR_NEAR`` of the frame's longer side of ``box``: the same object seen again under a new track id
        (the cue's tracks break when a detection is missed)."""
        cooldown = self.behaviour.config.cooldown_s
        self._behaving = [b for b in self._behaving if b.refs or t - b.end_t <= cooldown]
        reach = BEHAVIOUR_NEAR * (max(np.shape(image)[:2]) if image is not None else 0)
        centre = np.array([box[0] + box[2], box[1] + box[3]]) / 2
        for b in self._behaving:
            there = np.array([b.box[0] + b.box[2], b.box[1] + b.box[3]]) / 2
            if b.event.kind == kind and float(np.hypot(*(centre - there))) <= reach:
                return b
        return None

    def _behaviour_message(self, msg: dict, frame: int, image) -> dict[str, Any] | None:
        if msg["type"] == "event_start":
            near = self._nearby(msg["kind"], msg["bbox"], msg["end_time"], image)
            if near is not None:  # continues (or, closed, is cooled down by) that event: one event per object
                near.box, near.refs = msg["bbox"], near.refs + 1
                self._behaviour_open[msg["id"]] = near
                return None
            ev = Event(self._frame_at(msg["start_time"]), frame, frame, float(msg["peak_score"]),
                       tuple(msg["bbox"]), self.fps, 1.0, self.source, image, start_t=msg["start_time"],
                       end_t=msg["end_time"], id=self._next_id, kind=msg["kind"], label=msg["label"],
                       track_id=msg["track_id"])  # fmt: skip
            self._next_id += 1
            self._behaviour_open[msg["id"]] = b = _Behaving(ev, msg["bbox"], msg["end_time"])
            self._behaving.append(b)
            return self._start_message(ev, frame, ev.peak_score)
        b = self._behaviour_open.pop(msg["id"], None)
        if b is None:
            return None
        b.refs, b.box, b.end_t = b.refs - 1, msg["bbox"], max(b.end_t, msg["end_time"])
        ev = b.event
        if b.closed:
            return None
        if msg["end_time"] >= (ev.end_t or -np.inf):
            ev.end_frame, ev.end_t = self._frame_at(msg["end_time"]), msg["end_time"]
        if msg["peak_score"] > ev.peak_score:
            ev.peak_frame, ev.peak_score, ev.bbox = (
                self._frame_at(msg["peak_time"]),
                msg["peak_score"],
                tuple(msg["bbox"]),
            )
        if b.refs:
            return None
        b.closed = True
        return self._keep(ev, always=True)  # (the scorer's min_duration_s is its minimum duration)

    def _close(self) -> dict[str, Any] | None:
        ev, self._open, self._below = self._open, None, 0
        return self._keep(ev)

    def _keep(self, ev: Event | None, *, always: bool = False) -> dict[str, Any] | None:
        if ev is None or (not always and ev.length < self.min_length):
            return None
        self.closed += 1
        self.events.append(ev)
        if self.keep is not None:
            ev.peak_image = None
            del self.events[: max(0, len(self.events) - self.keep)]
        return ev.to_dict()

    # ---------------------------------------------------------------------------------------- per object
    def _groups(self, region_map: np.ndarray, score: float) -> list[tuple[tuple[int, int, int, int], float, tuple]]:
        """Connected groups of regions above the threshold on an alarmed frame: ``(cell box, peak, peak cell)``."""
        from scipy import ndimage

        if not score > self.threshold:
            return []
        mask = region_map > self.threshold
        if not mask.any():  # the frame value (a top-k mean, smoothed) is above while no single region is
            mask = region_map == region_map.max()
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
        out = []
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            sub = np.where(labels[sl] == k, region_map[sl], -np.inf)
            r, c = np.unravel_index(int(np.argmax(sub)), sub.shape)
            box = (sl[0].start, sl[1].start, sl[0].stop, sl[1].stop)
            out.append((box, float(sub[r, c]), (sl[0].start + r, sl[1].start + c)))
        return out

    def _pixel_box(self, cells: tuple[int, int, int, int], grid, image) -> tuple[int, int, int, int]:
        from ..cues.base import uniform_box

        shape = tuple(grid) if image is None else np.shape(image)[:2]
        r0, c0, r1, c1 = cells
        x0, y0, _, _ = uniform_box(r0, c0, tuple(grid), shape)
        _, _, x1, y1 = uniform_box(r1 - 1, c1 - 1, tuple(grid), shape)
        return x0, y0, x1, y1

    def _overlap(self, a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
        """Cells shared by box ``a`` and box ``b`` grown by ``link_gap`` regions on each side (0: not linked)."""
        g = self.link_gap
        dh = min(a[2], b[2] + g) - max(a[0], b[0] - g)
        dw = min(a[3], b[3] + g) - max(a[1], b[1] - g)
        return max(dh, 0) * max(dw, 0)

    def _update_objects(self, frame, score, image, t, region_map) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        groups = self._groups(region_map, score)
        # Each group continues the open event it overlaps most; an event continued by several groups (an object
        # seen in pieces) takes them all.
        taken: dict[int, list[int]] = {}
        fresh = []
        for gi, (cells, _, _) in enumerate(groups):
            best = max(
                range(len(self._tracks)), key=lambda j: self._overlap(cells, self._tracks[j].cells), default=None
            )
            if best is not None and self._overlap(cells, self._tracks[best].cells) > 0:
                taken.setdefault(best, []).append(gi)
            elif not any(until >= frame and self._overlap(cells, c) > 0 for c, until in self._cooling):
                fresh.append(gi)
        self._cooling = [(c, until) for c, until in self._cooling if until >= frame]
        still: list[_Track] = []
        for j, tr in enumerate(self._tracks):
            mine = taken.get(j)
            if mine is None:
                tr.below += 1
                if tr.below >= self.end_after:
                    closed = self._keep(tr.event)
                    if closed is not None:
                        out.append(closed)
                        if self.cooldown:
                            self._cooling.append((tr.cells, frame + self.cooldown))
                    continue
                still.append(tr)
                continue
            cells = _union([groups[g][0] for g in mine])
            peak_g = max(mine, key=lambda g: groups[g][1])
            ev = tr.event
            tr.cells, tr.below = cells, 0
            ev.end_frame, ev.end_t = frame, t
            box = self._pixel_box(cells, region_map.shape, image)
            ev.track.append((frame, *box))
            if groups[peak_g][1] > ev.peak_score:
                ev.peak_frame, ev.peak_score, ev.peak_image, ev.bbox = frame, groups[peak_g][1], image, box
                self._name(ev)
            still.append(tr)
        for g in fresh:
            cells, peak, _ = groups[g]
            ev = self._new_event(frame, peak, self._pixel_box(cells, region_map.shape, image), image, t)
            ev.track.append((frame, *ev.bbox))
            still.append(_Track(ev, cells))
        self._tracks = still
        for tr in self._tracks:
            if not tr.announced and tr.below == 0 and tr.event.length >= self.min_length:
                tr.announced = True
                out.append(self._start_message(tr.event, frame, tr.event.peak_score))
        return out

    # -------------------------------------------------------------------------------------------- both
    def finish(self) -> list[dict[str, Any]]:
        """Close every open event (end of a recording, a lost source, an interrupt)."""
        out = self._update_tamper(-1, 0.0, None, None, None)
        if self.behaviour is not None:
            msgs = self.behaviour.finish()
            for tid in self.behaviour.track_ids:  # after a gap the cue's tracker starts its ids afresh
                self.behaviour.end_track(tid)
            out += [m for m in (self._behaviour_message(msg, -1, None) for msg in msgs) if m]
        closed = self._close()
        if closed is not None:
            out.append(closed)
        for tr in self._tracks:
            closed = self._keep(tr.event)
            if closed is not None:
                out.append(closed)
        self._tracks = []
        return out

    @property
    def in_event(self) -> bool:
        return self._open is not None or bool(self._tracks) or self._tamper is not None

    def open_events(self) -> list[tuple[Event, tuple[int, int, int, int] | None, bool]]:
        """The events open now (announced or not), oldest first: ``(event, cells, continued)``. ``cells``: per
        object, its regions' box ``(r0, c0, r1, c1)`` (exclusive ends) on the last frame that continued it, None per
        frame span; ``continued``: whether the last update continued it. For recorders that follow each object."""
        if self._open is not None:
            return [(self._open, None, self._below == 0)]
        return [(tr.event, tr.cells, tr.below == 0) for tr in self._tracks]


def behaviour_scorer(detector, *, source: str = "", start=None, keep: bool = True):
    """A ``behaviour.BehaviourScorer`` of ``detector``'s behaviour models (None without them: a detector without
    the objects cue, or fitted before them); ``start``: the wall clock of ``t = 0``."""
    models = getattr(detector, "behaviour", None)
    if not models:
        return None
    from .behaviour import BehaviourScorer

    config = next(iter(models.values())).config
    return BehaviourScorer(models, config, start=start, source=source, keep=keep)


def _named(ev: Event) -> dict[str, Any]:
    """``label`` and ``track_id`` of an event that has them (events of a detector without objects: nothing)."""
    return {} if ev.label is None else {"label": ev.label, "track_id": ev.track_id}


def _union(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def events_to_mask(events: list[Event] | list[dict], n_frames: int) -> np.ndarray:
    """``(n_frames,)`` bool, True inside any event."""
    mask = np.zeros(n_frames, dtype=bool)
    for ev in events:
        d = ev if isinstance(ev, dict) else ev.to_dict()
        mask[max(0, d["start_frame"]) : min(n_frames, d["end_frame"] + 1)] = True
    return mask

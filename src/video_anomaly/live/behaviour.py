"""Behaviour of tracked objects, learnt from a camera's normal footage: how long, which way, at what time of day.

Pure models over tracks, with no dependency on how the tracks were made (the objects cue, or the synthetic
scene's true tracks, ``data/synthetic_behaviour.py``). A track is a sequence of observations
``(track_id, label, t_seconds, (x0, y0, x1, y1))`` in frame pixels. Places are the cells of a ``rows x cols`` grid
over the frame (nobody draws zones); an object is where its box's bottom centre is (where it stands). Each model
fits on the tracks of normal footage, per region and class, and scores live, observation by observation, while
the object is still there; a score above 1 is unusual (the units of each model's own reference):

* ``DwellModel`` (kind ``lingering``): how long the object has stayed in its current region, against the
  ``quantile`` of normal stays there for its class (times ``margin``). A person standing for minutes where people
  pass scores high; at a bus stop, where people wait as long, it does not.
* ``DirectionModel`` (kind ``direction``): its heading over the last ``window_s`` seconds against the share of
  normal motion of its class in that region going that way (``min_share``), and its speed against the normal
  ``quantile`` (times ``margin``): the wrong way down a one-way walkway, a cyclist among walkers.
* ``OccupancyModel`` (kind ``time_of_day``): how often objects of its class enter that region at this time of
  day (``bucket_hours`` buckets) against what the rest of the day predicts for as much footage: a region busy by
  day and empty at night makes a person there at night unusual (and objects of any class must be as rare there
  then: the smaller of the two). Footage without times (``start`` None) fits no
  buckets, and the model says nothing (scores 0): a detector without times behaves as before. A region the class
  never uses at any hour is the ``object`` kind's business, not this one's.

``BehaviourScorer`` runs the three live and turns scores into events (``kind``, ``track_id``, times, box): one
opens once a score has stayed above 1 for ``min_duration_s`` and closes when it drops; ``cooldown_s`` must pass
before the same track raises the same kind again. ``docs/behaviour.md`` has the figures on the synthetic scene.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

LINGERING, DIRECTION, TIME_OF_DAY = "lingering", "direction", "time_of_day"


@dataclass(frozen=True)
class BehaviourConfig:
    """``grid``: ``(rows, cols)`` regions over the frame; ``quantile`` and ``margin``: a dwell or speed scores 1 at
    ``margin`` times that quantile of the normal ones; ``min_samples``: fewer normal values in a region and its
    class's values over all regions are used; ``window_s``: seconds of a track a heading is measured over;
    ``min_speed``: slower (frame heights per second) has no heading; ``bins``: heading bins; ``min_share``: a
    heading taken by less than this share of normal motion there scores 1; ``bucket_hours``: time-of-day bucket;
    ``min_ratio``: visits of the class to the region in a bucket, as a share of those the whole day's rate predicts
    there, that score 1; ``min_visits``: visits the whole day's rate must predict in a bucket for it to say
    anything; ``min_duration_s`` and ``cooldown_s``: the event rules."""

    grid: tuple[int, int] = (6, 8)
    quantile: float = 0.99
    margin: float = 1.5
    min_samples: int = 5
    window_s: float = 1.0
    min_speed: float = 0.05
    bins: int = 8
    min_share: float = 0.02
    bucket_hours: int = 3
    min_ratio: float = 0.1
    min_visits: float = 5.0
    min_duration_s: float = 1.0
    cooldown_s: float = 10.0


@dataclass
class Track:
    """One object: ``label``, times ``t`` (N,) seconds, ``boxes`` (N, 4) ``x0, y0, x1, y1`` pixels, by time."""

    track_id: Any
    label: str
    t: np.ndarray
    boxes: np.ndarray

    def anchors(self) -> np.ndarray:
        """(N, 2) ``x, y``: where the object stands (the bottom centre of its box)."""
        return np.stack([(self.boxes[:, 0] + self.boxes[:, 2]) / 2, self.boxes[:, 3]], axis=1)


def in_view(box, frame_shape: tuple[int, int], slack: float = 0.5) -> bool:
    """Whether ``box`` lies inside a frame of ``(H, W)`` pixels (give or take ``slack``: live boxes are rounded to
    whole pixels). A tracker that carries a box by the optical flow between detector runs (the objects cue) carries
    the last one of an object that has walked out past the edge, and keeps it while no detector run ends it (none
    runs on a still view); a detector's boxes are clipped to the frame, so a box past its edge is such a leftover,
    and no object here."""
    h, w = frame_shape
    return box[0] >= -slack and box[1] >= -slack and box[2] <= w + slack and box[3] <= h + slack


def tracks_from_rows(rows: Iterable) -> list[Track]:
    """Tracks from observation rows ``(track_id, label, t_seconds, box)`` or ``(track_id, label, t, x0, y0, x1,
    y1, ...)``, in any order."""
    groups: dict[Any, list] = defaultdict(list)
    for row in rows:
        tid, label, t, box = _row(row)
        groups[tid].append((t, label, box))
    out = []
    for tid, obs in groups.items():
        obs.sort(key=lambda o: o[0])
        out.append(Track(tid, obs[0][1], np.array([o[0] for o in obs]), np.array([o[2] for o in obs], float)))
    return out


def _row(row) -> tuple[Any, str, float, list[float]]:
    tid, label, t, *rest = row
    box = rest[0] if len(rest) == 1 or not np.isscalar(rest[0]) else rest[:4]
    return tid, label, float(t), [float(v) for v in box]


@dataclass(frozen=True)
class Regions:
    """The ``(rows, cols)`` grid over a frame of ``(H, W)`` pixels; ``of(x, y)`` the region index of a point."""

    grid: tuple[int, int]
    frame_shape: tuple[int, int]

    def of(self, xy: np.ndarray) -> np.ndarray:
        xy = np.atleast_2d(xy)
        (rows, cols), (h, w) = self.grid, self.frame_shape
        r = np.clip((xy[:, 1] / h * rows).astype(int), 0, rows - 1)
        c = np.clip((xy[:, 0] / w * cols).astype(int), 0, cols - 1)
        return r * cols + c


def _reference(values: dict, key: tuple, label: str, q: float, min_samples: int) -> float | None:
    """The ``q`` quantile of the values of ``key`` (region, label), or of the label's over all regions."""
    own = values.get(key, [])
    if len(own) < min_samples:
        own = [v for (_, lab), vs in values.items() if lab == label for v in vs]
    return float(np.quantile(own, q)) if len(own) >= min_samples else None


# ------------------------------------------------------------------------------------------------ dwell
def _runs(regions: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index runs of one region."""
    cut = np.flatnonzero(np.diff(regions)) + 1
    edges = [0, *cut.tolist(), len(regions)]
    return list(zip(edges[:-1], edges[1:]))


@dataclass
class DwellModel:
    """How long objects of a class stay in a region (see the module docstring)."""

    regions: Regions
    config: BehaviourConfig = field(default_factory=BehaviourConfig)
    stays: dict = field(default_factory=dict)  # (region, label) -> [seconds]

    def fit(self, tracks: Iterable[Track]) -> DwellModel:
        stays: dict = defaultdict(list)
        for tr in tracks:
            reg = self.regions.of(tr.anchors())
            for a, b in _runs(reg):
                stays[(int(reg[a]), tr.label)].append(float(tr.t[b - 1] - tr.t[a]))
        self.stays = dict(stays)
        return self

    def score(self, track: Track) -> float:
        """The stay so far in its current region (its last observation), in units of the normal reference."""
        reg = self.regions.of(track.anchors())
        a, b = _runs(reg)[-1]
        ref = _reference(self.stays, (int(reg[-1]), track.label), track.label, self.config.quantile,
                         self.config.min_samples)  # fmt: skip
        dwell = float(track.t[b - 1] - track.t[a])
        return 0.0 if ref is None else dwell / max(self.config.margin * ref, 1e-6)


# -------------------------------------------------------------------------------------------- direction
def _velocity(track: Track, i: int, window_s: float, height: float, anchors: np.ndarray) -> np.ndarray | None:
    """Velocity ``(vx, vy)`` in frame heights per second over the ``window_s`` before observation ``i``;
    ``anchors``: the track's ``anchors()`` (computed once per track by the caller, not once per observation)."""
    j = int(np.searchsorted(track.t, track.t[i] - window_s, side="right")) - 1
    if j < 0 or track.t[i] - track.t[j] <= 0:
        return None
    return (anchors[i] - anchors[j]) / (track.t[i] - track.t[j]) / height


@dataclass
class DirectionModel:
    """Which way and how fast objects of a class move in a region (see the module docstring)."""

    regions: Regions
    config: BehaviourConfig = field(default_factory=BehaviourConfig)
    headings: dict = field(default_factory=dict)  # (region, label) -> (bins,) counts
    speeds: dict = field(default_factory=dict)  # (region, label) -> [frame heights per second]

    def _bin(self, v: np.ndarray) -> int:
        return int((math.atan2(v[1], v[0]) % (2 * math.pi)) / (2 * math.pi) * self.config.bins) % self.config.bins

    def fit(self, tracks: Iterable[Track]) -> DirectionModel:
        headings: dict = defaultdict(lambda: np.zeros(self.config.bins))
        speeds: dict = defaultdict(list)
        h = float(self.regions.frame_shape[0])
        for tr in tracks:
            anchors = tr.anchors()
            reg = self.regions.of(anchors)
            for i in range(len(tr.t)):
                v = _velocity(tr, i, self.config.window_s, h, anchors)
                if v is None:
                    continue
                key = (int(reg[i]), tr.label)
                speeds[key].append(float(np.hypot(*v)))
                if np.hypot(*v) >= self.config.min_speed:
                    headings[key][self._bin(v)] += 1
        self.headings, self.speeds = dict(headings), dict(speeds)
        return self

    def score(self, track: Track) -> float:
        """Its heading and speed now against the normal ones there: the larger of the two, in reference units."""
        cfg = self.config
        anchors = track.anchors()
        v = _velocity(track, len(track.t) - 1, cfg.window_s, float(self.regions.frame_shape[0]), anchors)
        if v is None:
            return 0.0
        key = (int(self.regions.of(anchors[-1:])[0]), track.label)
        speed = float(np.hypot(*v))
        ref = _reference(self.speeds, key, track.label, cfg.quantile, cfg.min_samples)
        out = 0.0 if ref is None else speed / max(cfg.margin * ref, 1e-6)
        counts = self.headings.get(key)
        if counts is None or counts.sum() < cfg.min_samples:
            counts = sum((c for (_, lab), c in self.headings.items() if lab == track.label), np.zeros(cfg.bins))
        if speed >= cfg.min_speed and counts.sum() >= cfg.min_samples:
            share = (counts[self._bin(v)] + 0.5) / (counts.sum() + 0.5 * cfg.bins)
            out = max(out, cfg.min_share / share)
        return out


# ------------------------------------------------------------------------------------------- time of day
@dataclass
class Footage:
    """Normal footage of one camera: its ``tracks``, its ``start`` (wall clock of ``t = 0``; None: unknown) and
    ``duration_s``."""

    tracks: list[Track]
    start: datetime | None
    duration_s: float


@dataclass
class OccupancyModel:
    """How often objects of a class enter a region at each time of day (see the module docstring): visits (runs of
    a track in the region) per bucket, and seconds of footage per bucket."""

    regions: Regions
    config: BehaviourConfig = field(default_factory=BehaviourConfig)
    exposure: dict = field(default_factory=dict)  # bucket -> seconds of footage
    visits: dict = field(default_factory=dict)  # (region, label, bucket) -> visits begun

    def bucket(self, when: datetime) -> int:
        return when.hour // self.config.bucket_hours

    def fit(self, footage: Iterable[Footage]) -> OccupancyModel:
        exposure: dict = defaultdict(float)
        visits: dict = defaultdict(int)
        for f in footage:
            if f.start is None:
                continue  # no clock: nothing to say about the time of day
            for s in np.arange(0.0, f.duration_s, 1.0):  # one-second steps: buckets are hours long
                exposure[self.bucket(f.start + timedelta(seconds=float(s)))] += min(1.0, f.duration_s - s)
            for tr in f.tracks:
                reg = self.regions.of(tr.anchors())
                for a, _ in _runs(reg):
                    visits[(int(reg[a]), tr.label, self.bucket(f.start + timedelta(seconds=float(tr.t[a]))))] += 1
        self.exposure, self.visits = dict(exposure), dict(visits)
        return self

    def score(self, track: Track, when: datetime | None) -> float:
        """At wall-clock ``when`` (None: unknown, score 0): the visits its class made to its region in this bucket
        against those the whole day's rate predicts for the bucket's footage; 1 at ``min_ratio`` of them, when at
        least ``min_visits`` were due (else too little footage to say), capped at 100. The same for objects of
        any class must say so too (the smaller of the two): the region is empty at this hour, not merely short of
        one class, which a detector's misreadings (a walker taken for a fire hydrant more often by night) make."""
        if when is None or not self.exposure:
            return 0.0
        b = self.bucket(when)
        region = int(self.regions.of(track.anchors()[-1:])[0])
        share = self.exposure.get(b, 0.0) / sum(self.exposure.values())
        own = self._ratio(region, share, b, lambda lab: lab == track.label)
        return 0.0 if own == 0.0 else min(own, self._ratio(region, share, b, lambda lab: True))

    def _ratio(self, region: int, share: float, b: int, of) -> float:
        cfg = self.config
        due = share * sum(v for (r, lab, _), v in self.visits.items() if r == region and of(lab))
        if due < cfg.min_visits:
            return 0.0
        seen = sum(v for (r, lab, bb), v in self.visits.items() if r == region and bb == b and of(lab))
        return min(100.0, cfg.min_ratio * due / max(seen, 0.01))


# ------------------------------------------------------------------------------------------ live events
def fit_behaviour(footage: list[Footage], frame_shape: tuple[int, int], config: BehaviourConfig | None = None):
    """The three models fitted on normal ``footage`` of frames ``(H, W)``: ``{kind: model}``."""
    cfg = config or BehaviourConfig()
    regions = Regions(tuple(cfg.grid), tuple(frame_shape))
    tracks = [tr for f in footage for tr in f.tracks]
    return {
        LINGERING: DwellModel(regions, cfg).fit(tracks),
        DIRECTION: DirectionModel(regions, cfg).fit(tracks),
        TIME_OF_DAY: OccupancyModel(regions, cfg).fit(footage),
    }


class BehaviourScorer:
    """Live: ``update(track_id, label, t, box)`` per observation (in time order) returns event messages
    (``event_start`` then ``event``, each with its ``kind``, as ``events.EventTracker``'s); ``finish()`` closes
    what is open. ``start``: the wall clock of ``t = 0`` (None: unknown; the time-of-day model then says nothing).
    A track keeps its last ``max_obs`` observations (a stay longer than that many is measured as that long);
    ``end_track(track_id)`` closes a track that has ended (its events close, its observations go). ``keep``: the
    closed events are kept in ``events`` (False: not; a live run's memory does not grow with them)."""

    def __init__(self, models: dict, config: BehaviourConfig | None = None, *, start: datetime | None = None,
                 source: str = "", max_obs: int = 20_000, keep: bool = True):  # fmt: skip
        self.models, self.config, self.start, self.source = models, config or BehaviourConfig(), start, source
        self.max_obs, self.keep = max_obs, keep
        self._obs: dict = {}  # track_id -> (label, [t], [box])
        self._state: dict = {}  # (track_id, kind) -> {"above": t | None, "open": dict | None, "quiet": t}
        self.events: list[dict] = []
        self._next_id = 1

    def _score(self, kind: str, track: Track) -> float:
        model = self.models[kind]
        if kind == TIME_OF_DAY:
            when = None if self.start is None else self.start + timedelta(seconds=float(track.t[-1]))
            return model.score(track, when)
        return model.score(track)

    def update(self, track_id, label: str, t: float, box) -> list[dict]:
        _, ts, boxes = self._obs.setdefault(track_id, (label, [], []))
        ts.append(float(t))
        boxes.append([float(v) for v in box])
        del ts[: -self.max_obs], boxes[: -self.max_obs]
        track = Track(track_id, label, np.asarray(ts), np.asarray(boxes))
        out = []
        for kind in self.models:
            out += self._step((track_id, kind), label, float(t), box, self._score(kind, track))
        return out

    def _step(self, key, label, t, box, score) -> list[dict]:
        st = self._state.setdefault(key, {"above": None, "open": None, "quiet": -math.inf})
        ev = st["open"]
        if score <= 1.0:
            st["above"] = None
            return [] if ev is None else [self._close(st)]
        if ev is not None:
            ev["end_time"] = t
            if score > ev["peak_score"]:
                ev.update(peak_score=round(score, 4), peak_time=t, bbox=[int(round(v)) for v in box])
            return []
        st["above"] = t if st["above"] is None else st["above"]
        began = max(st["above"], st["quiet"])  # the cool-down after its last event of this kind counts for nothing
        if t - began < self.config.min_duration_s:
            return []
        ev = {"type": "event", "id": self._next_id, "source": self.source, "kind": key[1], "track_id": key[0],
              "label": label, "start_time": began, "end_time": t, "peak_time": t,
              "peak_score": round(score, 4), "bbox": [int(round(v)) for v in box]}  # fmt: skip
        self._next_id += 1
        st["open"] = ev
        return [{**ev, "type": "event_start"}]

    def _close(self, st: dict) -> dict:
        ev, st["open"] = st["open"], None
        st["quiet"] = ev["end_time"] + self.config.cooldown_s
        if self.keep:
            self.events.append(ev)
        return dict(ev)

    def end_track(self, track_id) -> list[dict]:
        """Track ``track_id`` has ended (its object left): its open events close and it is forgotten."""
        self._obs.pop(track_id, None)
        out = []
        for key in [k for k in self._state if k[0] == track_id]:
            st = self._state.pop(key)
            if st["open"] is not None:
                out.append(self._close(st))
        return out

    @property
    def track_ids(self) -> list:
        """The tracks being followed."""
        return list(self._obs)

    def finish(self) -> list[dict]:
        return [self._close(st) for st in self._state.values() if st["open"] is not None]


def score_tracks(models: dict, rows: Iterable, config: BehaviourConfig | None = None, **kw) -> list[dict]:
    """Every observation row (``tracks_from_rows``'s form) through a ``BehaviourScorer`` in time order: the finished
    events (``kw``: ``start``, ``source``)."""
    scorer = BehaviourScorer(models, config, **kw)
    for tid, label, t, box in sorted((_row(o) for o in rows), key=lambda o: o[2]):
        scorer.update(tid, label, t, box)
    scorer.finish()
    return scorer.events

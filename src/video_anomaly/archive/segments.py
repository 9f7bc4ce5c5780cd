"""Recordings cut into segments, and the history (overlap) a segment needs for its first frame to score as in
one pass."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .recordings import Recording

# The EMA's remaining weight on frames before a segment's overlap: below this, a score differs from the one-pass
# score by less than 1e-9 of the scores' range.
EMA_FORGET = 1e-9


@dataclass(frozen=True)
class Segment:
    """Frames ``[start, end)`` of one recording (``end`` None: to the end of the recording); the worker decodes
    from ``start - overlap`` so that the frames it writes have their full history."""

    rec: Recording
    k: int
    start: int
    end: int | None

    @property
    def seg_id(self) -> str:
        return f"{self.rec.rec_id}.s{self.k:06d}"


def history_frames(detector, score: str | None = None) -> int:
    """Frames of the past that the score of a frame depends on, for a segment's overlap.

    Per cue of the score: its warm-up (frames before its first map: the autoencoder's clip length - 1, the motion
    cue's first frame without flow) plus its pooling window (``pool``: the motion cue averages its features over
    the last 5 frames); the largest over the cues. With EMA smoothing (``ema_alpha < 1``) the score remembers every
    past frame with a weight that decays by ``1 - alpha`` per frame: enough frames are added for that weight to
    fall under ``EMA_FORGET``.
    """
    session = detector.session(score)
    need = session.clip_length - 1
    for c in session.cues:
        cue = detector.cues[c]
        need = max(need, int(cue.warmup) + int(getattr(cue, "pool", 0) or 0))
    alpha = float(getattr(detector.config, "ema_alpha", 1.0))
    if 0.0 < alpha < 1.0:
        need += math.ceil(math.log(EMA_FORGET) / math.log(1.0 - alpha))
    return need


def unbounded_cues(detector, score: str | None = None) -> list[str]:
    """The score's cues whose memory no overlap covers: a running background (the appearance cue's ``bg_rate``)
    remembers every frame since the stream began, so a segment restarts it from the training background and its
    first frames can score differently from ``score``'s one pass until it has adapted."""
    session = detector.session(score)
    return [c for c in session.cues if getattr(getattr(detector.cues[c], "config", None), "bg_rate", None)]


def probe_length(rec: Recording, fps: float | None = None) -> int | None:
    """Frames in ``rec``: exact for a frame folder; for a video file the container's count (or duration x rate),
    None when it says neither. Raises ``DataError`` naming the file when it cannot be opened."""
    from ..data.frames import ImageFolderSource, open_source

    source = open_source(rec.path)
    if isinstance(source, ImageFolderSource):
        return len(source)
    container = source._open()
    try:
        stream = container.streams.video[0]
        if stream.frames and stream.frames > 0:
            return int(stream.frames)
        rate = float(fps or stream.average_rate or stream.guessed_rate or 0)
        seconds = None
        if container.duration:
            seconds = container.duration / 1e6  # AV_TIME_BASE
        elif stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        return round(seconds * rate) if seconds and rate else None
    finally:
        container.close()


def plan_segments(rec: Recording, n_frames: int | None, segment_frames: int) -> list[Segment]:
    """Cut ``rec`` into segments of ``segment_frames``; the last one runs to the recording's real end (a video's
    announced length can be off: frames past it are still scored, segments past the real end are empty)."""
    n = max(1, -(-int(n_frames or 1) // segment_frames))
    return [Segment(rec, k, k * segment_frames, None if k == n - 1 else (k + 1) * segment_frames) for k in range(n)]

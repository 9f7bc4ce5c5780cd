"""The optical flow of a frame pair, computed once for every cue that needs it.

The motion cue and the objects cue both want DIS flow between the same two working frames (the frame scaled so
its longer side is at most ``max_side``, the same preset). ``shared_flow`` keeps the last pair it computed, per
thread, and hands the same flow to the next caller whose frames are equal to it, byte for byte: the cache is
keyed on content, not identity, so a cue gets exactly the flow it would have computed itself (DIS is
deterministic for a given pair and preset), and cues need not know of each other. The flow returned is shared:
callers must not write into it.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def shared_flow(dis, prev: np.ndarray, cur: np.ndarray, preset: str) -> np.ndarray:
    """DIS flow ``(h, w, 2)`` float32 (working pixels) from ``prev`` to ``cur`` (``(h, w)`` uint8); ``dis`` an
    OpenCV ``DISOpticalFlow`` of ``preset``, used only when the last pair of this thread differs."""
    last = getattr(_local, "last", None)
    if (
        last is not None
        and last[0] == preset
        and last[1].shape == prev.shape
        and np.array_equal(last[1], prev)
        and np.array_equal(last[2], cur)
    ):
        return last[3]
    flow = dis.calc(prev, cur, None)
    flow.flags.writeable = False  # shared between cues: a write would change another cue's input
    _local.last = (preset, prev.copy(), cur.copy(), flow)
    return flow


def clear() -> None:
    """Forget this thread's last pair (tests; a study that times the flow)."""
    _local.last = None

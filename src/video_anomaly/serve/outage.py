"""What the log says about a camera that does not open, or opens and sends no frame; the back-off of its retries.

A camera worker retries such a camera at its own back-off (1 s doubling to ``retry_max_s``); a line per try would
flood the log of a camera that is down for the night, and no line at all (as before) left an operator with a camera
that never opened and nothing to say why. So: one warning at the first failed try, naming the reason, then again
after 10 s, 20 s, 40 s, ... at most every 10 minutes while the outage lasts, and one line when frames come again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Backoff:
    """Delays between retries: ``first``, doubling, at most ``cap`` seconds; ``reset()`` after a success."""

    first: float = 1.0
    cap: float = 30.0
    _next: float = 0.0

    def next(self) -> float:
        self._next = self.first if self._next <= 0 else min(self.cap, self._next * 2)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


class Outage:
    """``failed(reason, retry_s)`` after each failed try; ``ended()`` once frames come. ``warn(line)``: where the
    lines go (the worker's reporter, which names the camera and hides the source's secrets). Seconds throughout."""

    def __init__(self, warn: Callable[[str], None], first: float = 10.0, cap: float = 600.0):
        self.warn, self.cap = warn, cap
        self.gaps = Backoff(first, cap)  # between the lines, as between the tries
        self.tries, self.since, self.next_at = 0, 0.0, 0.0

    def failed(self, reason: str, retry_s: float) -> None:
        now = time.monotonic()
        if not self.tries:
            self.since, self.next_at = now, now
            self.gaps.reset()
        self.tries += 1
        if now < self.next_at:
            return
        self.next_at = now + self.gaps.next()
        so_far = f" ({self.tries} tries in {now - self.since:.0f} s)" if self.tries > 1 else ""
        self.warn(f"warning: {reason}{so_far}; trying again in {retry_s:g} s")

    def ended(self) -> None:
        if self.tries:
            self.warn(f"frames come again after {self.tries} failed tries in {time.monotonic() - self.since:.0f} s")
        self.tries = 0

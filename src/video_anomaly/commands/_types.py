"""Argparse ``type=`` functions for numeric flags: a bad value is refused at parse time, one line, exit 2.

``float("nan")``, ``"inf"`` and ``"-3"`` all parse as floats; a flag that needs a positive, finite number says so
before any work starts (``argument --lr: expected a finite number > 0, got 'nan'``).
"""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _checked(kind: type, ok, rule: str, name: str):
    def parse(text: str):
        value = _number(text, kind)
        if not ok(value):
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"expected {what} {rule}, got {text!r}")
        return value

    parse.__name__ = name  # argparse names the type in its "invalid <name> value" fallback
    return parse


finite_float = _checked(float, lambda v: True, "", "finite_float")
finite_float.__doc__ = "Any finite float (refuses nan and inf)."
positive_float = _checked(float, lambda v: v > 0, "> 0", "positive_float")
nonneg_float = _checked(float, lambda v: v >= 0, ">= 0", "nonneg_float")
positive_int = _checked(int, lambda v: v > 0, ">= 1", "positive_int")
nonneg_int = _checked(int, lambda v: v >= 0, ">= 0", "nonneg_int")
probability = _checked(float, lambda v: 0 < v < 1, "strictly between 0 and 1", "probability")
probability.__doc__ = "A rate in the open interval (0, 1), e.g. a target false-alarm rate."
fraction = _checked(float, lambda v: 0 <= v < 1, "in [0, 1)", "fraction")
fraction.__doc__ = "A share in [0, 1), e.g. the part of each video held out of training."
weight = _checked(float, lambda v: 0 < v <= 1, "in (0, 1]", "weight")
weight.__doc__ = "A weight in (0, 1], e.g. the EMA weight of the newest frame (1 = no smoothing)."


def positive_ints(text: str) -> tuple[int, ...]:
    """Comma-separated integers >= 1, e.g. temporal strides ``1,2``."""
    parts = [s.strip() for s in text.split(",") if s.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    try:
        values = tuple(int(s) for s in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    return values


def frame_side(text: str) -> int:
    """A frame side in pixels: a multiple of 8 from 8 to ``config.MAX_SIZE`` (memory grows with its square)."""
    from ..api import MAX_SIZE

    value = _number(text, int)
    if value < 8 or value % 8 or value > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"expected a multiple of 8 from 8 to {MAX_SIZE}, got {text!r}")
    return value

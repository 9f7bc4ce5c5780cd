"""What the commands that use a detector share: how it is named, loaded and which scores it offers."""

from __future__ import annotations

from ..api import SCORES
from ._types import finite_float, nonneg_int, positive_float, positive_int

SCORE_HELP = "; ".join(f"{n}: {s.help}" for n, s in SCORES.items())


def add_model_args(p, dest: str, metavar: str, nargs: str, help: str, *, score: bool = True) -> None:
    """The positional arguments ``dest`` (the detector may be the first of them, see ``split_detector``), then
    ``--model``, ``--score``, ``--device``."""
    p.add_argument(dest, metavar=metavar, nargs=nargs, help=help)
    p.add_argument(
        "--model",
        metavar="DETECTOR",
        help="a detector folder (the --out of `train`) or a shipped name (see `video-anomaly models`); "
        "without it the first positional argument is the detector",
    )
    if score:
        # Every score is a choice: a live command given ``seed`` says in one line where it works.
        p.add_argument(
            "--score",
            choices=tuple(SCORES),
            default=None,
            help=f"named score (default: the detector's own). {SCORE_HELP}",
        )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when present)")


def add_event_args(p) -> None:
    """``--threshold``, ``--fps``, ``--end-after``, ``--min-length``: how the scores of a recording become events
    (``score`` and ``archive``; ``watch`` has its own ``--fps``, for live timestamps)."""
    p.add_argument("--threshold", type=finite_float, help="override the calibrated alarm threshold")
    p.add_argument("--fps", type=positive_float, help="frame rate for times (default: the file's; folders 10)")
    add_event_rules(p)


def add_event_rules(p) -> None:
    """``--end-after``, ``--min-length``, ``--cooldown``: the event rules, each the detector's unless given."""
    p.add_argument(
        "--end-after", type=positive_int, help="frames below threshold that end an event (default: the detector's, 5)"
    )
    p.add_argument("--min-length", type=positive_int, help="shortest event in frames (default: the detector's, 3)")
    p.add_argument(
        "--cooldown",
        type=nonneg_int,
        help="frames after an event before the next one of the same place opens (default: the detector's, 25)",
    )


def split_detector(args, positionals: list[str], what: str) -> tuple[str, list[str]]:
    """``(detector, rest)`` from ``--model`` or the first positional argument."""
    from ..api import ConfigError

    if args.model:
        return args.model, list(positionals)
    if not positionals:
        raise ConfigError(f"name the detector: --model DETECTOR {what} (or DETECTOR {what})")
    return positionals[0], list(positionals[1:])


def load_detector(spec: str, device=None):
    from ..api import Detector

    return Detector.load(spec, device=device)

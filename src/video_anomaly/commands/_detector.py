"""What the commands that use a detector share: how it is named, loaded and which scores it offers."""

from __future__ import annotations

from ..scores import SCORES

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


def split_detector(args, positionals: list[str], what: str) -> tuple[str, list[str]]:
    """``(detector, rest)`` from ``--model`` or the first positional argument."""
    from ..errors import ConfigError

    if args.model:
        return args.model, list(positionals)
    if not positionals:
        raise ConfigError(f"name the detector: --model DETECTOR {what} (or DETECTOR {what})")
    return positionals[0], list(positionals[1:])


def load_detector(spec: str, device=None):
    from ..detector import Detector

    return Detector.load(spec, device=device)

"""The command line: a thin layer over the Python API.

Each sub-command lives in ``video_anomaly.commands.<name>`` and declares what its parser needs: ``HELP`` (its line
in ``video-anomaly --help``), ``add_arguments(parser)``, ``run(args) -> int`` and optionally ``EPILOG``; the module
docstring after its first line is the description that ``video-anomaly NAME --help`` prints (one text for readers of
the code and users of the command; ``python -OO`` drops it). ``build_parser`` alone turns these into sub-parsers.
Command modules import heavy dependencies inside their functions so that ``video-anomaly --help`` stays fast.

Errors the user can fix are one line on stderr and exit status 2: the toolkit's own errors
(``VideoAnomalyError``) and file-system errors on a named path (a read-only folder, a file where a
folder is expected...). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings

from .api import VideoAnomalyError, describe_os_error
from .commands._types import positive_int

COMMANDS = ("data", "train", "evaluate", "score", "calibrate", "watch", "feedback", "models", "report", "bench",
            "export", "demo")  # fmt: skip
COMMANDS += ("archive",)  # many recordings in segments on Ray or a process pool (archive.py)
COMMANDS += ("serve",)  # many cameras as a service: event store, pages, MQTT, webhooks (serve/)
# Commands that never run a model: no need to import torch to set its threads.
_NO_TORCH = ("data", "report")


class _Parser(argparse.ArgumentParser):
    """A bad flag is one line too (``video-anomaly train: error: argument --size: ...``), not 20 lines of usage
    first; ``--help`` still prints the usage. Sub-command parsers are of this class as well."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _description() -> str:
    """What the toolkit is, with the default detector read from the code (``cues.DEFAULT_CUES``), never typed."""
    from .api import DEFAULT_CUES, DetectorConfig

    cues = " and ".join(filter(None, (", ".join(DEFAULT_CUES[:-1]), DEFAULT_CUES[-1])))
    return (
        "Find abnormal events in surveillance video, learnt from normal footage only. A new detector (train) fits "
        f"the {cues} cues in minutes on a CPU, calibrated per region on normal frames, and "
        f"alarms on the {DetectorConfig().score} score; the seed's spatiotemporal autoencoder (Chong & Tay 2017) is "
        "an optional cue (train --cues ae,...). Shipped detectors for UCSD: video-anomaly models."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="video-anomaly", description=_description())
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="CPU threads for torch and OpenCV (default: OMP_NUM_THREADS, else the cores other processes leave free)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"video_anomaly.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"video_anomaly.commands.{name}":
                continue
            raise
        _add_command(sub, name, module)
    _state_defaults(parser)
    return parser


def _add_command(sub: argparse._SubParsersAction, name: str, module) -> None:
    """The sub-parser ``name`` as its command module declares it (see the module docstring)."""
    _, _, description = (module.__doc__ or "").partition("\n\n")
    p = sub.add_parser(
        name, help=module.HELP, description=description.strip() or None, epilog=getattr(module, "EPILOG", None)
    )
    module.add_arguments(p)
    p.set_defaults(func=module.run)


# What an option left unset means, for the options whose help does not say it already.
_UNSET = {"train": "(default: from --config, else the seed recipe of config.py)"}


def _state_defaults(parser: argparse.ArgumentParser, unset: str = "(default: none)") -> None:
    """Every option's help ends with its default: written once here rather than in each help text."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                _state_defaults(sp, _UNSET.get(name, unset))
            continue
        if not action.option_strings or isinstance(action, argparse._HelpAction) or action.required:
            continue
        text = action.help or ""
        if "default" in text.lower() or "seed " in text:
            continue
        if action.nargs == 0:  # a flag
            note = "(default: off)"
        elif action.default is None:
            note = unset
        else:
            note = "(default: %(default)s)"
        action.help = f"{text} {note}".strip()


@contextlib.contextmanager
def _plain_warnings(command: str):
    """Within the block, a Python warning is one line ``video-anomaly CMD: warning: ...`` (not a ``UserWarning``
    with its source line); PIL's notes on damaged EXIF blocks, which say nothing about the frame's pixels, are
    dropped. Both are put back after (``main`` is called in-process by tests and notebooks)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?i).*corrupt EXIF", category=UserWarning)

        def show(message, category, filename, lineno, file=None, line=None):
            print(f"video-anomaly {command}: warning: {message}", file=sys.stderr, flush=True)

        warnings.showwarning = show
        yield


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .api import limit_heap_growth

    limit_heap_growth()  # long scoring runs: resident memory stays flat (see _memory.py)
    if args.command not in _NO_TORCH or args.threads is not None:
        from .api import apply_thread_policy

        apply_thread_policy(args.threads)
    try:
        with _plain_warnings(args.command):
            return int(args.func(args) or 0)
    except VideoAnomalyError as exc:
        print(f"video-anomaly {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None or isinstance(exc, (BrokenPipeError, ConnectionError)):
            raise
        print(f"video-anomaly {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"video-anomaly {args.command}: interrupted", file=sys.stderr)
        return getattr(exc, "exit_status", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The command line: a thin layer over the Python API.

Each sub-command lives in ``video_anomaly.commands.<name>`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable ``(args) -> int``. Command modules import
heavy dependencies inside their functions so that ``video-anomaly --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import VideoAnomalyError

COMMANDS = ("data", "train", "evaluate", "score", "calibrate", "watch", "report", "bench", "export", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="video-anomaly",
        description="Find abnormal events in surveillance video with a spatiotemporal autoencoder.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"video_anomaly.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"video_anomaly.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ._memory import limit_heap_growth

    limit_heap_growth()  # long scoring runs: resident memory stays flat (see _memory.py)
    try:
        return int(args.func(args) or 0)
    except VideoAnomalyError as exc:
        print(f"video-anomaly {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"video-anomaly {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

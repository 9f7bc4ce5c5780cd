"""``video-anomaly report RUN``: one self-contained HTML page for the scored videos of a run folder.

RUN: a folder written by `video-anomaly score --out RUN` (searched recursively for *.scores.json). Images are
embedded; overlay videos are linked by relative path.
"""

from __future__ import annotations

HELP = "write RUN/report.html: regularity curves, events with thumbnails, links to overlay videos"


def add_arguments(p) -> None:
    p.add_argument("run", metavar="RUN")
    p.add_argument("--out", metavar="FILE", help="page to write (default RUN/report.html)")
    p.add_argument("--title", help="page title")


def run(args) -> int:
    from ..api import build_report

    path = build_report(args.run, out=args.out, title=args.title)
    print(path)
    return 0

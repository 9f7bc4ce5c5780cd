"""Markdown rows for the README's results table from ``evaluation.json`` files written by ``evaluate``.

    python scripts/results_table.py LABEL=RUN/eval/exact/evaluation.json [LABEL=...]

Each row: frame-level micro AUC/EER (no normalisation, and the seed's per-video normalisation), macro
AUC/EER, pixel-level micro AUC (the UCSD 40% criterion) where masks exist, and the scoring time.
"""

from __future__ import annotations

import json
import sys


def _f(x) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def row(label: str, path: str) -> str:
    r = json.load(open(path))
    f = r.get("frame_level") or {}
    p = r.get("pixel_level") or {}
    get = lambda d, k, m: (d.get(k) or {}).get(m)  # noqa: E731
    return (
        f"| {label} | {r['protocol']} | {r['scoring']['frame_scores']} | "
        f"{_f(get(f, 'micro', 'auc'))} / {_f(get(f, 'micro', 'eer'))} | "
        f"{_f(get(f, 'micro_normalized', 'auc'))} / {_f(get(f, 'micro_normalized', 'eer'))} | "
        f"{_f(get(f, 'macro', 'auc'))} / {_f(get(f, 'macro', 'eer'))} | "
        f"{_f(get(p, 'micro', 'auc'))} / {_f(get(p, 'micro_normalized', 'auc'))} | "
        f"{r['n_videos']} videos, {r['n_frames']} frames, {r.get('scoring_seconds', float('nan')) / 60:.1f} min |"
    )


HEADER = (
    "| model | protocol | frame score | micro AUC / EER (raw) | micro AUC / EER (per-video seed norm.) "
    "| macro AUC / EER | pixel AUC (raw / norm.) | scored |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def main(argv: list[str]) -> int:
    print(HEADER)
    for arg in argv:
        label, path = arg.split("=", 1)
        print(row(label, path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The README's results table, regenerated from saved ``evaluation.json`` files (``video-anomaly evaluate``).

    python scripts/results_table.py docs/results.json            # print the table
    python scripts/results_table.py docs/results.json --readme README.md   # replace it in the README

``docs/results.json`` lists the rows: ``{"label", "evaluation": path to evaluation.json, "chosen": how the
settings were chosen, "command": the command that wrote it}``; a row whose result no change since could alter (the
seed's exact protocol, 30 min a dataset) may carry ``"stored"``: the numbers of its last ``evaluation.json`` and
the date measured, used (and marked) when the file is absent. The table sits in the README between the lines
``<!-- results:start -->`` and ``<!-- results:end -->``; a row whose file is missing is an error (rerun its command),
so a changed default can never leave a stale row behind.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"
HEADER = (
    "| data, score | protocol | micro AUC (raw) | micro AUC (per-video norm.) | macro AUC "
    "| false alarms on normal frames (target) | pixel AUC | RBDC | TBDC | alarms: anomalies caught, false runs "
    "| how the settings were chosen |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def _f(x) -> str:
    return "-" if x is None or x != x else f"{x:.3f}"


def row(entry: dict, base: Path) -> str:
    path = base / entry["evaluation"]
    stored = entry.get("stored")
    if path.is_file():
        r = json.loads(path.read_text())
    elif stored is not None:
        # A row this round did not rerun (its result cannot have changed): its numbers as last measured, marked.
        r = stored
        entry = {**entry, "label": f"{entry['label']} (measured {stored['measured']}, not rerun)"}
    else:
        raise SystemExit(f"{path}: missing; rerun: {entry.get('command', '?')}")
    f = r.get("frame_level") or {}
    auc = lambda k: (f.get(k) or {}).get("auc")  # noqa: E731
    px = (r.get("pixel_level") or {}).get("auc")
    rt = r.get("rbdc_tbdc") or {}
    ev = r.get("events") or {}
    alarms = f"{ev['anomalies_with_alarm']}/{ev['labelled_anomalies']}, {ev['false_alarm_runs']}" if ev else "-"
    far = r.get("false_alarm_rate") or {}
    far_s = f"{far['achieved']:.1%} ({far['target']:.0%})" if far.get("achieved") is not None else "-"
    return (
        f"| {entry['label']} | {r['protocol']} | {_f(auc('micro'))} | {_f(auc('micro_normalized'))} | "
        f"{_f(auc('macro'))} | {far_s} | {_f(px)} | {_f(rt.get('rbdc'))} | {_f(rt.get('tbdc'))} | {alarms} | "
        f"{entry.get('chosen', '')} |"
    )


def table(manifest: Path) -> str:
    entries = json.loads(manifest.read_text())
    base = manifest.resolve().parent.parent
    return HEADER + "\n" + "\n".join(row(e, base) for e in entries)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--readme", type=Path)
    a = ap.parse_args(argv)
    t = table(a.manifest)
    if a.readme is None:
        print(t)
        return 0
    text = a.readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{a.readme}: no {START} ... {END} block")
    a.readme.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{t}\n{END}", text, flags=re.S)
    )
    print(f"updated {a.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

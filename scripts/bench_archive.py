"""Scaling of ``video-anomaly archive``: frames/s with 1 and 2 workers (or any list), side by side in one run.

The footage: ``--minutes`` of 10 fps frames (20 min = 12,000 frames by default) split over ``--cameras`` frame
folders, made of UCSD Ped2's test frames looped (symbolic links, nothing copied), or, without the dataset, the
motion cue's synthetic sequence at Ped2's size. The detector: the shipped ``ucsd-ped2`` (its default score, the
motion cue). Each worker count scores the whole footage into a fresh output folder; the wall time includes the
start of the workers (and of a local Ray); ``startup_s`` estimates that start (the end of the first segment less
its own time) and ``frames_per_s_after_startup`` leaves it out. Per worker: frames / the sum of the segments' own
times; ``cores_used``: the workers' CPU seconds over the wall time after the start-up (how many cores they really had:
on a machine shared with other jobs, fewer than the workers); ``frames_per_cpu_s``: frames per CPU second.

    .venv/bin/python scripts/bench_archive.py                       # 1 and 2 workers, Ray when installed
    .venv/bin/python scripts/bench_archive.py --engine local --workers 1,2
    .venv/bin/python scripts/bench_archive.py --address 127.0.0.1:6379 --workers 2   # a running Ray cluster
    .venv/bin/python scripts/bench_archive.py --cost-only     # decode, event pass, part size, worker memory

Prints one JSON object (also written to ``--json``): per run the wall time, frames/s, frames/s per worker, the
cores used; per worker count their means and the speed-up over the first count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

UCSD = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "UCSD_Anomaly_Dataset.v1p2" / "UCSDped2"


def make_footage(root: Path, minutes: float, cameras: int, fps: float, data: Path) -> tuple[list[Path], str]:
    """``cameras`` frame folders holding ``minutes`` of footage in all (symbolic links to looped frames)."""
    from video_anomaly.data.frames import list_images

    test = data / "Test"
    if test.is_dir():
        clips = [d for d in sorted(test.iterdir()) if d.is_dir() and not d.name.endswith("_gt")]
        frames = [f for d in clips for f in list_images(d)]
        what = f"UCSD Ped2 test frames ({len(frames)}) looped"
    else:
        from PIL import Image

        from video_anomaly.cues.motion import synthetic_sequence

        src = root / "synthetic"
        src.mkdir(parents=True)
        frames = []
        for i, f in enumerate(synthetic_sequence(300, (240, 360))):
            frames.append(src / f"{i:05d}.png")
            Image.fromarray(f).save(frames[-1])
        what = "synthetic 360x240 sequence (300 frames) looped (UCSD Ped2 not found)"
    total = int(round(minutes * 60 * fps))
    folders = []
    for c in range(cameras):
        folder = root / "footage" / f"cam{c + 1}" / "day1"
        folder.mkdir(parents=True)
        for i in range(c * total // cameras, (c + 1) * total // cameras):
            os.symlink(frames[i % len(frames)].resolve(), folder / f"{i:06d}{frames[0].suffix}")
        folders.append(folder)
    return folders, what


def cost_model(tmp: Path, model: str) -> dict:
    """The archive's own costs, each measured here: decoding H.264 at 360x240 through ``open_live_source``
    (what a video segment pays per frame before its start), the driver's event pass per recording, the size of a
    3000-frame Parquet part, and the resident memory of a worker once its detector has scored 30 frames."""
    import subprocess

    import numpy as np
    import pyarrow as pa

    from video_anomaly.archive import Recording, Segment, recording_events
    from video_anomaly.archive.parquet import _write_parts
    from video_anomaly.cues.motion import synthetic_sequence
    from video_anomaly.live.sources import open_live_source

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from live_fixtures import write_ts  # the tests' H.264 writer (PyAV)

    clip = write_ts(synthetic_sequence(300, (240, 360)), tmp / "decode.ts")
    t0 = time.perf_counter()
    n = sum(1 for _ in open_live_source(str(clip)).timed_frames())
    decode_ms = (time.perf_counter() - t0) / n * 1000
    rng = np.random.default_rng(0)
    m = 200_000
    zeros = np.zeros(m, np.int32)
    table = pa.table({"frame": np.arange(m), "t_s": np.arange(m) / 10, "score": rng.random(m), "x0": zeros,
                      "y0": zeros, "x1": zeros + 1, "y1": zeros + 1})  # fmt: skip
    t0 = time.perf_counter()
    recording_events(table, Recording("a", "cam"), threshold=0.9, fps=10.0, end_after=5, min_length=3)
    events_fps = m / (time.perf_counter() - t0)
    k = 3000
    cols = {
        "frame": list(range(k)),
        "t_s": list(np.arange(k) / 10),
        "score": list(rng.random(k) * 3),
        "raw": list(rng.random(k) * 3),
        **{c: list(rng.integers(0, 240, k)) for c in ("x0", "y0", "x1", "y1")},
    }
    rel = _write_parts(Segment(Recording(str(tmp / "x.mp4"), "cam", "2026-11-03T08:00:00"), 0, 0, k), cols, 1.5, tmp)
    part_kb = (tmp / rel[0]).stat().st_size / 1000
    code = (f"import resource, numpy as np; from video_anomaly.api import Detector; s = Detector.load({model!r})"
            ".session(None); [s.push(np.zeros((240, 360), np.uint8), i) for i in range(30)]; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")  # fmt: skip
    rss = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    return {"decode_ms_per_frame_h264_360x240": round(decode_ms, 2), "event_pass_frames_per_s": round(events_fps),
            "parquet_kb_per_3000_frames": round(part_kb, 1), "worker_peak_rss_mb": round(rss / 1024, 1)}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=20.0, help="footage in minutes at --fps (default 20)")
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--cameras", type=int, default=2)
    p.add_argument("--segment-frames", type=int, default=600)
    p.add_argument("--workers", default="1,2", help="worker counts, comma-separated, run in this order")
    p.add_argument("--engine", default="auto", choices=("auto", "ray", "local"))
    p.add_argument("--address", help="a Ray cluster to join instead of a local Ray")
    p.add_argument("--model", default="ucsd-ped2")
    p.add_argument("--data", type=Path, default=UCSD, help="UCSD Ped2 root (default ../shared/datasets/...)")
    p.add_argument("--json", type=Path, help="also write the result here")
    p.add_argument("--cost-only", action="store_true", help="only the cost-model figures (no scaling runs)")
    args = p.parse_args(argv)

    from video_anomaly.api import score_archive

    if args.cost_only:
        with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
            print(json.dumps(cost_model(Path(tmp), args.model), indent=1))
        return 0
    counts = [int(x) for x in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        folders, what = make_footage(Path(tmp), args.minutes, args.cameras, args.fps, args.data)
        runs = []
        for run_no, n in enumerate(counts):
            t0 = time.monotonic()
            first: list[float] = []  # when the first segment ended, less its own time: the workers' start-up

            def on_segment(marker, first=first, t0=t0):
                if not first:
                    first.append(time.monotonic() - t0 - marker["wall_s"])

            out = Path(tmp) / f"out-{run_no}-{n}"
            res = score_archive(args.model, folders, out, segment_frames=args.segment_frames,
                                engine=args.engine, workers=n, address=args.address, progress=False,
                                on_segment=on_segment, log=lambda m: print(m, file=sys.stderr))  # fmt: skip
            wall = time.monotonic() - t0
            if not res.ok:
                print(json.dumps(res.failed + res.recordings_failed), file=sys.stderr)
                return 1
            seg_s = cpu_s = 0.0
            for m in (out / "_state" / "segments").glob("*.json"):
                doc = json.loads(m.read_text())
                seg_s, cpu_s = seg_s + doc["wall_s"], cpu_s + doc["cpu_s"]
            runs.append({"workers": n, "engine": res.engine, "frames": res.frames, "wall_s": round(wall, 2),
                         "frames_per_s": round(res.frames / wall, 2), "startup_s": round(first[0], 2),
                         "frames_per_s_after_startup": round(res.frames / (wall - first[0]), 2),
                         "frames_per_s_per_worker": round(res.frames / seg_s, 2),
                         "frames_per_cpu_s": round(res.frames / cpu_s, 2),
                         "cores_used": round(cpu_s / (wall - first[0]), 2),
                         "load_avg_1min_after": round(os.getloadavg()[0], 2)})  # fmt: skip
            print(json.dumps(runs[-1]), file=sys.stderr)
    # Repeated counts (--workers 1,2,2,1: an ABBA order evens out a load that drifts) are averaged.
    by_n: dict[int, list[dict]] = {}
    for r in runs:
        by_n.setdefault(r["workers"], []).append(r)
    base = counts[0]
    summary = []
    for n, rs in by_n.items():
        row = {"workers": n, "runs": len(rs)}
        for key in ("frames_per_s", "frames_per_s_after_startup", "frames_per_s_per_worker", "cores_used"):
            row[key] = round(sum(r[key] for r in rs) / len(rs), 2)
        summary.append(row)
    for row in summary:
        ref = next(x for x in summary if x["workers"] == base)
        row["speedup"] = round(row["frames_per_s"] / ref["frames_per_s"], 3)
        row["speedup_after_startup"] = round(row["frames_per_s_after_startup"] / ref["frames_per_s_after_startup"], 3)
    result = {
        "machine": f"{platform.node()} ({os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f})",
        "footage": f"{args.minutes:g} min at {args.fps:g} fps over {args.cameras} camera(s): {what}",
        "model": args.model,
        "segment_frames": args.segment_frames,
        "summary": summary,
        "runs": runs,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load benchmark of `video-anomaly serve`: how many cameras one machine serves without dropping a frame, and the
event store's insert rate.

Cameras: UCSD Ped2 test clips (360x240) replayed in a loop at 10 frames/s as live sources (the drop-oldest policy
of a real camera: a worker that falls behind drops frames and counts them), each in its own worker process run by
the service's own ``Supervisor`` with the shipped ``ucsd-ped2`` detector (its default score, the motion cue), events
recorded into a temporary SQLite store with snapshots and clips, as in the service. For each N of ``--cameras`` the
cameras run ``--seconds`` once all are live; a step passes when no camera dropped a frame (the steps stop at the
first that fails). The store: ``--inserts`` closed events (a 100-point score curve each) recorded one transaction
each, into SQLite (WAL) and, with ``--pg URL``, PostgreSQL.

    .venv/bin/python scripts/bench_serve.py --seconds 30 --cameras 1,2,4,8,12,16
    .venv/bin/python scripts/bench_serve.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Prints one JSON line per step and a summary; the machine's load average is printed beside each step, since on a
shared machine other processes take cores too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

PED2 = Path(__file__).resolve().parents[1] / "../shared/datasets/UCSD_Anomaly_Dataset.v1p2/UCSDped2/Test"


def run_cameras(n: int, seconds: float, clips: list[Path], detector: str, fps: float, tmp: Path) -> dict:
    from video_anomaly.serve.config import CameraConfig, ServeConfig, ServerConfig, StoreConfig
    from video_anomaly.serve.store import Store
    from video_anomaly.serve.workers import Supervisor

    store_cfg = StoreConfig(f"sqlite:///{tmp / f'bench{n}.sqlite'}", tmp / f"media{n}")
    Store(store_cfg.database, store_cfg.media).migrate()
    cams = tuple(CameraConfig(f"cam{i}", str(clips[i % len(clips)]), detector, loop=True, fps=fps)
                 for i in range(n))  # fmt: skip
    config = ServeConfig(Path(tmp / "bench.toml"), ServerConfig(), store_cfg, cams)
    summaries, events, live_at = [], [], {}

    def on_message(msg):
        if msg["kind"] == "summary":
            summaries.append(msg)
        elif msg["kind"] == "event":
            events.append(msg["id"])
        elif msg["kind"] == "state" and msg.get("state") == "live" and msg.get("frames"):
            live_at.setdefault(msg["camera"], time.monotonic())

    sup = Supervisor(config, on_message)
    sup.start()
    deadline = time.monotonic() + 120
    while len(live_at) < n and time.monotonic() < deadline:  # all workers started and scoring
        time.sleep(0.2)
    time.sleep(seconds)
    load = os.getloadavg()
    sup.stop()
    frames = sum(s["frames"] for s in summaries)
    dropped = sum(s["dropped"] for s in summaries)
    cpu = sum(s["cpu_s"] for s in summaries)
    wall = max((s["wall_s"] for s in summaries), default=float("nan"))
    return {
        "cameras": n,
        "seconds": seconds,
        "frames": frames,
        "dropped": dropped,
        "frames_per_s_per_camera": round(frames / max(1, len(summaries)) / wall, 2) if summaries else None,
        # CPU seconds the workers spent per frame (all their threads: reading, decoding, scoring, recording):
        # what the cores must supply whatever else runs on them.
        "cpu_ms_per_frame": round(1000 * cpu / max(1, frames), 2),
        "latency_p95_s_worst": max((s["latency_p95_s"] for s in summaries), default=None),
        "workers_reporting": len(summaries),
        "events": len(events),
        "worker_peak_rss_mib_max": max((s["peak_rss_mib"] or 0 for s in summaries), default=None),
        "loadavg_1m": round(load[0], 2),
    }


def insert_rate(url: str, n: int, tmp: Path) -> dict:
    from video_anomaly.serve.store import CLOSED, Store, metadata

    store = Store(url, tmp / "media-insert")
    if store.engine.dialect.name != "sqlite":
        with store.engine.begin() as conn:
            metadata.drop_all(conn)
    store.migrate()
    curve = [[round(0.1 * i, 1), 1.0 + (i % 7) / 10] for i in range(100)]
    t0 = time.perf_counter()
    for i in range(n):
        store.record(f"bench/r/{i}", camera="bench", run_id="r", start_frame=i, status=CLOSED, start_ts=1e9 + i,
                     end_ts=1e9 + i + 1, threshold=1.0, peak_score=2.0, bbox=[1, 2, 3, 4], curve=curve)  # fmt: skip
    dt = time.perf_counter() - t0
    count = len(store.list(camera="bench", limit=n + 10))
    store.close()
    return {"database": store.engine.dialect.name, "inserts": n, "seconds": round(dt, 3),
            "inserts_per_s": round(n / dt, 1), "rows": count}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30.0, help="seconds each step runs once all workers are live")
    p.add_argument("--cameras", default="1,2,4,8,12,16", help="camera counts to try, in order (default 1,2,4,8,12,16)")
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--detector", default="ucsd-ped2")
    p.add_argument("--ped2", type=Path, default=PED2, help="UCSD Ped2's Test folder")
    p.add_argument("--inserts", type=int, default=2000)
    p.add_argument("--pg", help="also measure inserts into this PostgreSQL URL (its tables are dropped first)")
    p.add_argument("--skip-cameras", action="store_true")
    args = p.parse_args(argv)
    clips = sorted(d for d in args.ped2.glob("Test[0-9][0-9][0-9]") if d.is_dir())
    if not clips and not args.skip_cameras:
        print(f"bench_serve: {args.ped2}: no TestNNN folders (UCSD Ped2)", file=sys.stderr)
        return 2
    out = {"cpu_count": os.cpu_count(), "cameras": [], "store": []}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for url in [f"sqlite:///{tmp / 'insert.sqlite'}"] + ([args.pg] if args.pg else []):
            r = insert_rate(url, args.inserts, tmp)
            print(json.dumps(r), flush=True)
            out["store"].append(r)
        if not args.skip_cameras:
            for n in [int(x) for x in args.cameras.split(",")]:
                r = run_cameras(n, args.seconds, clips, args.detector, args.fps, tmp)
                print(json.dumps(r), flush=True)
                out["cameras"].append(r)
                if r["dropped"] or r["workers_reporting"] < n:
                    break
    ok = [r["cameras"] for r in out["cameras"] if not r["dropped"] and r["workers_reporting"] == r["cameras"]]
    out["max_cameras_without_drops"] = max(ok, default=0)
    if out["cameras"]:
        per_frame = out["cameras"][0]["cpu_ms_per_frame"] / 1000
        # The ceiling the CPU work sets on this machine's cores, were nothing else running.
        out["cameras_the_cores_could_serve"] = round((os.cpu_count() or 1) / (per_frame * args.fps), 1)
    print(json.dumps({"summary": out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

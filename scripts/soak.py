"""Soak benchmark of live detection: stream many frames through `watch`'s pipeline, watch memory and latency.

A synthetic scene (normal footage, with an anomaly every loop) is looped as a *live* source: a reader
thread feeds the bounded queue (drop-oldest policy) exactly as a camera would. Memory is the process RSS
(``/proc/self/status``); latency is from a frame's arrival in the queue to its score.

    .venv/bin/python scripts/soak.py --frames 100000 --size 32 --model median
    .venv/bin/python scripts/soak.py --frames 20000 --size 64 --model convlstm --device cuda

``--model median``: the temporal-median stand-in of the tests (pipeline cost only); ``convlstm``: the seed's
ConvLSTM autoencoder, untrained (same compute as a trained one); either is fitted with ``--cues`` (default
ae,motion) into a detector on the synthetic normal footage; or a detector folder / shipped name.
``--fps``: pace the source at this rate (0 = as fast as the reader can go, no drops then by design).
``--load N``: N busy-looping processes compete for the cores while it runs (the load a shared machine has);
``--threads``: torch/OpenCV threads (default: chosen from the free cores, as the command line does).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def rss_mib() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB."""
    vals = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":")
            vals[k] = int(v.split()[0]) / 1024
    return vals["VmRSS"], vals["VmHWM"]


def _busy() -> None:
    while True:
        pass


def _hog():
    import multiprocessing as mp

    p = mp.get_context("spawn").Process(target=_busy, daemon=True)
    p.start()
    return p


def main(argv=None) -> int:
    from video_anomaly.api import Detector
    from video_anomaly.cues.ae import AECue
    from video_anomaly.data.records import ArraySource
    from video_anomaly.data.synthetic import render_synthetic_videos
    from video_anomaly.detector import DetectorConfig
    from video_anomaly.device import choose_threads, pick_device
    from video_anomaly.fusion.scores import live_score_for, parse_cues
    from video_anomaly.live.events import EventTracker
    from video_anomaly.live.runner import run_source
    from video_anomaly.live.sources import LiveSource
    from video_anomaly.seed.config import RunConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--model", default="median")
    ap.add_argument("--fps", type=float, default=0.0)
    ap.add_argument("--queue", type=int, default=64)
    ap.add_argument("--device", default=None)
    ap.add_argument("--cues", default="ae,motion")
    ap.add_argument("--load", type=int, default=0, help="competing busy processes")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    hogs = [_hog() for _ in range(args.load)]
    time.sleep(1.0 if hogs else 0.0)  # let the load average see them
    threads = choose_threads(args.threads)

    device = pick_device(args.device)
    train, test = render_synthetic_videos(seed=0, height=48, width=64, n_train=2, n_test=1, frames=200)
    if args.model in ("median", "convlstm"):
        if args.model == "median":
            from live_fixtures import TemporalMedian

            model = TemporalMedian().to(device)
        else:
            from video_anomaly.seed.config import ModelConfig
            from video_anomaly.seed.models import build_model

            model = build_model(ModelConfig()).to(device).eval()
        cfg = RunConfig().replace(data={"size": args.size})
        cues = parse_cues(args.cues)
        dcfg = DetectorConfig(
            cues=cues, score=live_score_for(cues), cue_settings={"ae": {"patch": args.size // 8}, "motion": {"cell": 8}}
        )
        ae = AECue(model, cfg, patch=args.size // 8, device=device)
        det = Detector.fit([ArraySource(v.frames) for v in train], dcfg, ae=ae).session()
    else:
        det = Detector.load(args.model, device=device).session()
    loop = np.concatenate([train[0].frames, test[0].frames])
    samples: list[tuple[int, float, float]] = []

    def frames():
        period = 1.0 / args.fps if args.fps > 0 else 0.0
        t_next = time.perf_counter()
        for i in range(args.frames):
            if period:
                t_next += period
                time.sleep(max(0.0, t_next - time.perf_counter()))
            yield loop[i % len(loop)]

    def on_score(i, fs):
        if i % 1000 == 0:
            samples.append((i, *rss_mib()))

    torch.set_grad_enabled(False)
    tracker = EventTracker(det.threshold, fps=args.fps or 10.0)
    n_events = 0

    def emit(m):
        nonlocal n_events
        n_events += m["type"] == "event"

    t0 = time.perf_counter()
    stats = run_source(
        det,
        LiveSource("synthetic-loop", frames(), args.fps or 10.0, True),
        tracker=tracker,
        emit=emit,
        on_score=on_score,
        queue=args.queue,
        drop=args.fps > 0,
    )
    wall = time.perf_counter() - t0
    for h in hogs:
        h.terminate()
    start = [s for s in samples if s[0] <= args.frames // 10]
    end = [s for s in samples if s[0] >= args.frames - args.frames // 10]
    out = {
        "model": args.model,
        "cues": args.cues,
        "load": args.load,
        "threads": threads,
        "size": args.size,
        "device": str(device),
        "frames": stats.frames,
        "dropped": stats.dropped,
        "events": n_events,
        "wall_s": round(wall, 1),
        "frames_per_s": round(stats.frames / wall, 1),
        "rss_mib_first_10pct": round(max(s[1] for s in start), 1) if start else None,
        "rss_mib_last_10pct": round(max(s[1] for s in end), 1) if end else None,
        "peak_rss_mib_at_first_sample": round(samples[0][2], 1) if samples else None,
        "peak_rss_mib_at_end": round(rss_mib()[1], 1),
        "latency_ms_p50": round(1e3 * stats.latency_p50_s, 3),
        "latency_ms_p95": round(1e3 * stats.latency_p95_s, 3),
        "latency_ms_max": round(1e3 * stats.latency_max_s, 3),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

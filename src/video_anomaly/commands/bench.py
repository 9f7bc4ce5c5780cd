"""``video-anomaly bench``: plain port vs fast path, side by side, with ratios."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import flags
from ._types import frame_side, positive_int

HELP = "time the seed model: plain port vs fast path, side by side"


def add_arguments(p) -> None:
    p.add_argument("--size", type=frame_side, default=256, help="frame side in pixels, a multiple of 8 (default 256)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when present)")
    p.add_argument("--windows", type=positive_int, default=3, help="exact-protocol windows per timing (default 3)")
    p.add_argument("--live-frames", type=positive_int, default=12, help="frames scored per live timing (default 12)")
    p.add_argument("--repeats", type=positive_int, default=3, help="alternating timings per path; medians kept")
    p.add_argument(
        "--what",
        default="exact,live,train",
        help="comma list of exact, live, train, detector (the live detectors at 360x240: motion, and "
        "autoencoder + motion), objects (the object detector's ms per frame at four input sizes)",
    )
    p.add_argument(
        "--objects-frames",
        type=Path,
        default=None,
        metavar="DIR",
        help="a folder of frames for --what objects, the first 30 used (default: the synthetic 360x240 scene)",
    )
    p.add_argument("--detector-frames", type=int, default=100, help="frames per detector timing (default 100)")
    p.add_argument(
        "--detector-size", type=int, default=128, help="autoencoder input side of --what detector (default 128)"
    )
    p.add_argument("--memory", action="store_true", help="also compare peak memory for 200 vs 10,000 frames")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the numbers as JSON")


def run(args: argparse.Namespace) -> int:
    from ..api import ConfigError, format_table, memory_check, run_bench

    what = tuple(w.strip() for w in args.what.split(",") if w.strip())
    unknown = set(what) - {"exact", "live", "train", "detector", "objects"}
    if unknown:
        raise ConfigError(f"--what: unknown {sorted(unknown)}; choose from exact, live, train, detector, objects")
    if "objects" in what:
        _objects(args)
        what = tuple(w for w in what if w != "objects")
        if not what:
            return 0
    if "detector" in what:
        from ..api import detector_bench

        d = detector_bench(n_frames=args.detector_frames, size=args.detector_size, device=args.device)
        print(
            f"live detectors on {d['shape'][1]}x{d['shape'][0]} frames ({d['device']}, {d['threads']} threads): "
            f"motion {d['motion']['frames_per_s']} frames/s; autoencoder {d['ae_size']}x{d['ae_size']} + motion "
            f"{d['fused']['frames_per_s']} frames/s; default cues ({', '.join(d['default_cues'])}) "
            f"{d['default']['frames_per_s']} frames/s"
        )
        what = tuple(w for w in what if w != "detector")
        if not what:
            if args.json is not None:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"detector": d}, indent=2))
            return 0
    result = run_bench(what=what, **flags(args, "size windows device repeats live_frames"))
    if args.memory:
        result["memory"] = memory_check()
    print(format_table(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _objects(args: argparse.Namespace) -> None:
    from ..api import apply_thread_policy, format_objects, objects_bench

    result = objects_bench(args.objects_frames, threads=apply_thread_policy())
    print(format_objects(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"objects": result}, indent=2))

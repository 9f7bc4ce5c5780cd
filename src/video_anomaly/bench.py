"""Speed of the seed model: the plain eager port against the fast path, side by side in one run.

Every measurement alternates plain and fast runs on the same inputs and keeps medians, so the
ratios hold even on a machine shared with other work. FLOP counts are analytic (2 per
multiply-add, convolutions only), from the model's own layer shapes.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak_gflops(
    n: int = 2048, repeats: int = 5, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> float:
    """Best-of-``repeats`` GFLOP/s of an ``n x n`` matmul: this machine's practical peak.

    On CUDA use a large ``n`` (8192) and ``dtype=torch.bfloat16`` for the tensor-core peak.
    """
    device = device or torch.device("cpu")
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def run():
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    run()
    best = min(_time(run) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def model_flops(model, size: int, clip_length: int = 10) -> dict[str, float]:
    """FLOPs of the seed model's stages at ``size x size`` frames.

    Keys: ``encode`` (per frame), ``gates1`` (first ConvLSTM input convolution, per frame),
    ``temporal`` (per window, the rest of the ConvLSTM stack), ``temporal_fast`` (the same without
    the step-0 recurrent convolutions, which act on a zero state), ``decode`` (per frame).
    """

    def conv(layer, out_hw: int) -> float:
        co, ci, kh, kw = layer.weight.shape
        if isinstance(layer, torch.nn.ConvTranspose2d):  # weight is (in, out, k, k); cost per input pixel
            ci, co = co, ci
        return 2.0 * out_hw * co * ci * kh * kw

    s, q, e = size * size, (size // 4) ** 2, (size // 8) ** 2
    rec = sum(conv(lstm.cell.recurrent_conv, e) for lstm in (model.lstm1, model.lstm2, model.lstm3))
    inp = sum(conv(lstm.cell.input_conv, e) for lstm in (model.lstm2, model.lstm3))
    t = clip_length
    return {
        "encode": conv(model.conv1, q) + conv(model.conv2, e),
        "gates1": conv(model.lstm1.cell.input_conv, e),
        "temporal": t * (rec + inp),
        "temporal_fast": t * inp + (t - 1) * rec,
        "decode": conv(model.deconv1, e) + conv(model.deconv2, e * 4) + conv(model.conv_out, s),
    }


def _alternate(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function, run in turns (after one warm-up each)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(_time(fn))
    return {k: statistics.median(v) for k, v in times.items()}


def run_bench(
    size: int = 256,
    windows: int = 3,
    device: torch.device | str | None = None,
    what: Sequence[str] = ("exact", "live", "train"),
    repeats: int = 3,
    clip_length: int = 10,
    live_frames: int = 12,
    train_batch: int = 4,
    seed: int = 0,
) -> dict:
    """Time the plain port and the fast path side by side; return the numbers as a dict.

    ``exact``: ``windows`` stride-1 windows, all frames decoded (plain: one window per call).
    ``live``: ``live_frames`` frames scored from the window ending at each (plain: whole window).
    ``train``: one forward+backward of a ``(train_batch, T, 1, size, size)`` batch, MSE loss.
    Each result also holds the largest difference between plain and fast outputs or gradients.
    """
    from .device import pick_device
    from .seed.models.convlstm_ae import ConvLSTMAutoencoder
    from .seed.models.fast import FastConvLSTMAE

    device = device if isinstance(device, torch.device) else pick_device(device)
    torch.manual_seed(seed)
    model = ConvLSTMAutoencoder().to(device).eval()
    b = _Bench(model, FastConvLSTMAE(model), model_flops(model, size, clip_length), device, clip_length, repeats)
    rng = np.random.default_rng(seed)
    flops = b.flops
    out: dict = {
        "size": size,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "matmul_peak_gflops": matmul_peak_gflops()
        if device.type == "cpu"
        else matmul_peak_gflops(8192, 10, device, torch.bfloat16),
        "gflop_per_frame": (flops["encode"] + flops["gates1"] + flops["temporal"] / clip_length + flops["decode"])
        / 1e9,
    }
    if "exact" in what or "live" in what:
        n = max(windows, live_frames) + clip_length - 1
        video = [rng.integers(0, 256, (size, size), dtype=np.uint8) for _ in range(n)]
    if "exact" in what:
        out["exact"] = _bench_exact(b, video[: windows + clip_length - 1], windows)
    if "live" in what:
        out["live"] = _bench_live(b, video[: live_frames + clip_length - 1], windows, live_frames)
    if "train" in what:
        out["train"] = _bench_train(b, torch.rand(train_batch, clip_length, 1, size, size, device=device))
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


@dataclass
class _Bench:
    """What every timing of ``run_bench`` shares: the plain ``model``, its ``fast`` path, the analytic ``flops``
    of ``model_flops``, the device, the clip length and how many alternating ``repeats`` to take the median of."""

    model: torch.nn.Module
    fast: torch.nn.Module
    flops: dict[str, float]
    device: torch.device
    clip_length: int
    repeats: int

    def timed(self, fn: Callable[[], object]) -> Callable[[], object]:
        """``fn`` followed by a device synchronisation (CUDA runs asynchronously)."""

        def run():
            r = fn()
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            return r

        return run

    def alternate(self, fns: dict[str, Callable[[], object]]) -> dict[str, float]:
        return _alternate({k: self.timed(fn) for k, fn in fns.items()}, self.repeats)


def _bench_exact(b: _Bench, frames: list[np.ndarray], windows: int) -> dict:
    """The exact protocol on ``windows`` stride-1 windows of ``frames``: plain (a window per call) vs fast."""
    from .seed.inference import stream_windows

    T, flops, res = b.clip_length, b.flops, {}

    def plain():
        res["plain"] = list(stream_windows(b.model, frames, clip_length=T, batch_windows=1, fast=False))

    def fastrun():
        res["fast"] = list(stream_windows(b.model, frames, clip_length=T, device=b.device))

    t = b.alternate({"plain": plain, "fast": fastrun})
    diff = max(float(np.max(np.abs(x.l1 - y.l1) / np.abs(x.l1))) for x, y in zip(res["plain"], res["fast"]))
    plain_work = windows * T * (flops["encode"] + flops["gates1"] + flops["decode"]) + windows * flops["temporal"]
    fast_work = len(frames) * (flops["encode"] + flops["gates1"]) + windows * (
        flops["temporal_fast"] + T * flops["decode"]
    )
    return _rates(t, windows, T * windows, {"plain": plain_work, "fast": fast_work}) | {"max_rel_diff_l1": diff}


def _bench_live(b: _Bench, frames: list[np.ndarray], windows: int, live_frames: int) -> dict:
    """Live scoring of ``live_frames`` frames: plain (a whole window per frame, timed on a few) vs fast."""
    from .seed.inference import stream_live

    T, flops, res = b.clip_length, b.flops, {}

    def plain_live():
        res["plain"] = list(stream_live(b.model, frames, clip_length=T, fast=False))

    def fast_live():
        res["fast"] = list(stream_live(b.model, frames, clip_length=T, device=b.device))

    # The plain live reference is a whole window per frame: time it on a few frames only.
    few = frames[: min(live_frames, windows) + T - 1]

    def plain_few():
        list(stream_live(b.model, few, clip_length=T, fast=False))

    t = b.alternate({"plain": plain_few, "fast": fast_live})
    plain_live()
    diff = max(abs(x.l1 - y.l1) / abs(x.l1) for x, y in zip(res["plain"], res["fast"]))
    n_plain = len(few) - T + 1
    per = flops["encode"] + flops["gates1"] + flops["temporal_fast"] + flops["decode"]
    plain_per = T * (flops["encode"] + flops["gates1"] + flops["decode"]) + flops["temporal"]
    return {
        "plain_frames_per_s": n_plain / t["plain"],
        "fast_frames_per_s": live_frames / t["fast"],
        "speedup": (live_frames / t["fast"]) / (n_plain / t["plain"]),
        "plain_gflops": plain_per * n_plain / t["plain"] / 1e9,
        "fast_gflops": per * live_frames / t["fast"] / 1e9,
        "max_rel_diff_l1": diff,
    }


def _bench_train(b: _Bench, clips: torch.Tensor) -> dict:
    """One training step (forward, MSE loss, backward) on ``clips`` ``(B, T, 1, S, S)``: plain vs fast."""
    flops, model, grads = b.flops, b.model, {}
    model.train()

    def step(module, key):
        def run():
            model.zero_grad(set_to_none=True)
            torch.nn.functional.mse_loss(module(clips), clips).backward()
            grads[key] = [p.grad.detach().clone() for p in model.parameters()]

        return run

    t = b.alternate({"plain": step(model, "plain"), "fast": step(b.fast, "fast")})
    model.zero_grad(set_to_none=True)
    model.eval()
    diff = max(float((x - y).abs().max() / (x.abs().max() + 1e-12)) for x, y in zip(grads["plain"], grads["fast"]))
    n = clips.shape[0] * b.clip_length
    work = 3 * n * (flops["encode"] + flops["gates1"] + flops["decode"] + flops["temporal"] / b.clip_length)
    return {
        "plain_s_per_step": t["plain"],
        "fast_s_per_step": t["fast"],
        "speedup": t["plain"] / t["fast"],
        "plain_gflops": work / t["plain"] / 1e9,
        "fast_gflops": work / t["fast"] / 1e9,
        "max_rel_diff_grad": diff,
    }


def _rates(t: dict[str, float], windows: int, frames: int, work: dict[str, float]) -> dict:
    return {
        "plain_s_per_window": t["plain"] / windows,
        "fast_s_per_window": t["fast"] / windows,
        "plain_windows_per_s": windows / t["plain"],
        "fast_windows_per_s": windows / t["fast"],
        "plain_frames_per_s": frames / t["plain"],
        "fast_frames_per_s": frames / t["fast"],
        "speedup": t["plain"] / t["fast"],
        "plain_gflops": work["plain"] / t["plain"] / 1e9,
        "fast_gflops": work["fast"] / t["fast"] / 1e9,
    }


def memory_check(frame_counts: Sequence[int] = (200, 10_000), size: int = 16, batch_windows: int = 16) -> dict:
    """Peak resident MiB of exact-protocol scoring of synthetic videos of each length, each in a fresh process.

    Frames come from a generator, so nothing but the scorer's own buffers can grow with the length.
    """
    code = (
        "import sys,resource,numpy as np,torch\n"
        "from video_anomaly._memory import limit_heap_growth; limit_heap_growth()\n"
        "from video_anomaly.seed.models.convlstm_ae import ConvLSTMAutoencoder\n"
        "from video_anomaly.seed.inference import stream_windows\n"
        "n,s,b=map(int,sys.argv[1:4]);torch.manual_seed(0);m=ConvLSTMAutoencoder().eval()\n"
        "rng=np.random.default_rng(0)\n"
        "frames=(rng.integers(0,256,(s,s),dtype=np.uint8) for _ in range(n))\n"
        "k=sum(1 for _ in stream_windows(m,frames,batch_windows=b))\n"
        "print(k,resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)\n"
    )
    result = {}
    for n in frame_counts:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(n), str(size), str(batch_windows)],
            capture_output=True,
            text=True,
            check=True,
        )
        k, mb = proc.stdout.split()
        result[n] = {"windows": int(k), "peak_rss_mb": float(mb)}
    return {"size": size, "runs": result}


def format_table(r: dict) -> str:
    """A plain-text table of a ``run_bench`` result."""
    peak = r.get("matmul_peak_gflops")
    lines = [
        f"device {r['device']}, {r['threads']} threads, {r['size']}x{r['size']}, "
        f"{r['gflop_per_frame']:.1f} GFLOP/frame, fp32 matmul peak " + (f"{peak:.0f} GFLOP/s" if peak else "n/a"),
        f"{'mode':<7}{'path':<7}{'windows/s':>11}{'frames/s':>10}{'GFLOP/s':>9}{'% peak':>8}{'speedup':>9}  max diff",
    ]

    def row(mode, path, wps, fps, gf, speed, diff):
        pct = f"{100 * gf / peak:.0f}%" if peak else "n/a"
        w = f"{wps:.3f}" if wps is not None else "-"
        lines.append(f"{mode:<7}{path:<7}{w:>11}{fps:>10.2f}{gf:>9.1f}{pct:>8}{speed:>9}  {diff}")

    if "exact" in r:
        e = r["exact"]
        row("exact", "plain", e["plain_windows_per_s"], e["plain_frames_per_s"], e["plain_gflops"], "1.00x", "")
        row("exact", "fast", e["fast_windows_per_s"], e["fast_frames_per_s"], e["fast_gflops"],
            f"{e['speedup']:.2f}x", f"{e['max_rel_diff_l1']:.1e} (rel, l1)")  # fmt: skip
    if "live" in r:
        e = r["live"]
        row("live", "plain", None, e["plain_frames_per_s"], e["plain_gflops"], "1.00x", "")
        row("live", "fast", None, e["fast_frames_per_s"], e["fast_gflops"], f"{e['speedup']:.2f}x",
            f"{e['max_rel_diff_l1']:.1e} (rel, l1)")  # fmt: skip
    if "train" in r:
        e = r["train"]
        lines.append(
            f"train  plain {e['plain_s_per_step']:.2f} s/step ({e['plain_gflops']:.0f} GFLOP/s), fast "
            f"{e['fast_s_per_step']:.2f} s/step ({e['fast_gflops']:.0f} GFLOP/s): {e['speedup']:.2f}x, "
            f"grad max rel diff {e['max_rel_diff_grad']:.1e}"
        )
    lines.append(f"peak resident memory {r['peak_rss_mb']:.0f} MiB")
    if "memory" in r:
        m = r["memory"]
        runs = ", ".join(f"{n} frames: {v['peak_rss_mb']:.0f} MiB" for n, v in m["runs"].items())
        lines.append(f"streaming memory at {m['size']}x{m['size']}: {runs}")
    return "\n".join(lines)


def detector_bench(n_frames: int = 100, shape: tuple[int, int] = (240, 360), size: int = 128, device=None) -> dict:
    """Frames/s of the live detectors on ``shape`` frames (frames already decoded), side by side in one run:
    the motion cue with the default settings (flow + features + scoring), a detector with both cues (the
    seed autoencoder at ``size x size``, untrained: the same compute as a trained one) as ``watch`` runs it, and
    ``default``: a detector of the default cues of ``train`` (``cues.DEFAULT_CUES``) with its default score."""
    from .cues.ae import AECue
    from .cues.motion import synthetic_sequence
    from .detector import Detector, DetectorConfig
    from .device import pick_device
    from .seed.config import RunConfig
    from .seed.models.convlstm_ae import ConvLSTMAutoencoder

    device = device if isinstance(device, torch.device) else pick_device(device)
    train = synthetic_sequence(120, shape, seed=2)
    frames = synthetic_sequence(n_frames, shape, seed=1)
    torch.manual_seed(0)
    ae = AECue(ConvLSTMAutoencoder().to(device).eval(), RunConfig().replace(data={"size": size}), device=device)
    det = Detector.fit([_Frames(train)], DetectorConfig(cues=("ae", "motion"), holdout=0.25), ae=ae)
    out = {"shape": list(shape), "ae_size": size, "device": str(device), "threads": torch.get_num_threads(),
           "n_frames": n_frames}  # fmt: skip
    # The default cues of `train`, kept whatever the detector finds on these drawn frames (min_objects 0): what
    # they cost does not depend on what is found.
    from .cues import DEFAULT_CUES

    keep = {"objects": {"min_objects": 0.0}} if "objects" in DEFAULT_CUES else {}
    default = Detector.fit([_Frames(train)], DetectorConfig(cues=DEFAULT_CUES, holdout=0.25, cue_settings=keep))
    out["default_cues"] = list(DEFAULT_CUES)
    for name, d in (("motion", det), ("fused", det), ("default", default)):
        sess = d.session(None if name == "default" else name)
        t0 = time.perf_counter()
        n = sum(sess.push(f, i) is not None for i, f in enumerate(frames))
        dt = time.perf_counter() - t0
        out[name] = {"frames_per_s": round(n_frames / dt, 1), "scored": n}
    return out


class _Frames:
    """A frame array as the minimal source ``Detector.fit`` reads."""

    def __init__(self, frames):
        self.frames = frames

    def __len__(self):
        return len(self.frames)

    def iter_frames(self, size=None):
        return iter(self.frames)


OBJECT_SIZES = ((320, 480), (416, 416), (416, 640), (512, 768))


def objects_bench(
    frames: Sequence[np.ndarray] | str | Path | None = None,
    sizes: Sequence[tuple[int, int]] = OBJECT_SIZES,
    threads: int = 2,
    name: str = "nanodet",
) -> dict:
    """Milliseconds per frame of the object detector's ``detect`` (resize, ONNX Runtime, decoding, NMS) at each
    input ``(h, w)``, side by side: every frame runs at every size in turn, medians kept, ratios to the first
    size. ``frames``: uint8 frames, or a frame folder (its first 30) (default 30 frames of the synthetic 360x240
    scene; real footage gives more boxes to decode)."""
    from .cues.motion import synthetic_sequence
    from .objects import load_object_detector

    if isinstance(frames, (str, Path)):
        from .data.frames import list_images
        from .data.images import read_image

        frames = [read_image(p) for p in list_images(Path(frames))[:30]]

    det = load_object_detector(name, threads=threads)
    frames = list(frames) if frames is not None else list(synthetic_sequence(30, (240, 360), seed=1))
    for size in sizes:  # the first run at a shape allocates ONNX Runtime's buffers
        det.detect(frames[0], input_size=size)
    times: dict[tuple[int, int], list[float]] = {tuple(s): [] for s in sizes}
    boxes = dict.fromkeys(times, 0)
    for frame in frames:
        for size in times:
            t0 = time.perf_counter()
            boxes[size] += len(det.detect(frame, input_size=size))
            times[size].append(time.perf_counter() - t0)
    ms = {s: 1000 * statistics.median(t) for s, t in times.items()}
    first = ms[next(iter(ms))]
    return {
        "model": name,
        "threads": threads,
        "frames": len(frames),
        "frame_shape": list(frames[0].shape[:2]),
        "sizes": [
            {"input": f"{h}x{w}", "ms_per_frame": round(m, 1), "ratio": round(m / first, 2),
             "boxes_per_frame": round(boxes[(h, w)] / len(frames), 1)}
            for (h, w), m in ms.items()
        ],
    }  # fmt: skip


def format_objects(r: dict) -> str:
    """The table of ``objects_bench``."""
    lines = [
        f"object detector {r['model']}, {r['frames']} frames of {r['frame_shape'][1]}x{r['frame_shape'][0]}, "
        f"{r['threads']} threads (detect: resize, ONNX Runtime, decoding, NMS; medians)",
        "| input (h x w) | ms / frame | ratio | boxes / frame |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {s['input']} | {s['ms_per_frame']} | {s['ratio']} | {s['boxes_per_frame']} |" for s in r["sizes"]]
    return "\n".join(lines)

"""The one place that decides device and precision.

Models and data code never call ``.cuda()``: they receive a ``torch.device`` from here.
"""

from __future__ import annotations

import contextlib
import math
import os

import torch


def pick_device(name: str | None = None) -> torch.device:
    """Return the requested device, or CUDA when present, else CPU.

    ``name`` is ``None``/``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.
    """
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(str(name))
    if device.type == "cuda" and not torch.cuda.is_available():
        from .errors import ConfigError

        raise ConfigError(f"device {name!r} was requested but CUDA is not available here")
    return device


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` ("fp32", "bf16", "fp16") on ``device``; None = no autocast."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            from .errors import ConfigError

            raise ConfigError("fp16 autocast is only supported on CUDA; use bf16 or fp32 on CPU")
        return torch.float16
    from .errors import ConfigError

    raise ConfigError(f"unknown precision {precision!r}; expected fp32, bf16 or fp16")


def autocast(device: torch.device, precision: str):
    """A context manager running the block under autocast for ``precision`` (no-op for fp32)."""
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def configure_backend(device: torch.device) -> None:
    """Global speed settings that do not change results beyond tolerance (TF32, cudnn autotune)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def _cpu_quota() -> float | None:
    """CPUs allowed by a cgroup v2 quota (``cpu.max``: containers started with ``--cpus``), or None."""
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cpu_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _running_others() -> int:
    """Other processes runnable right now (``/proc/loadavg``'s running count, less this one); 0 where unknown."""
    try:
        running = int(open("/proc/loadavg").read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - 1)


_chosen: int | None = None  # the thread count this process settled on (by the CLI's --threads or a first API call)


def apply_thread_policy(requested: int | None = None) -> int:
    """The one thread policy of the package: ``choose_threads`` once per process. The CLI calls it with
    ``--threads``; every API run (load, train, calibrate, score, evaluate, watch) calls it with None, which keeps
    a count already chosen (by the CLI, or by the user through ``torch.set_num_threads`` before it: then that
    count stays). Returns the count in force."""
    global _chosen
    if requested is None and _chosen is not None:
        return _chosen
    _chosen = choose_threads(requested)
    return _chosen


def choose_threads(requested: int | None = None) -> int:
    """Set and return the number of intra-op threads for torch (and OpenCV when installed).

    ``requested`` (``--threads N``) wins; else ``OMP_NUM_THREADS`` when set; else the available cores minus
    those other processes keep busy: ``max(1, cores - floor(load))``, ``load`` the larger of the 1-minute load
    average (scaled to our share of the machine's CPUs) and the count of other processes runnable now. More
    threads than free cores make every thread wait (on 2 shared cores, two intra-op threads beside another busy
    process ran slower than one).
    """
    if requested is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        requested = int(env) if env.isdigit() and int(env) > 0 else None
    if requested is None:
        cores = available_cores()
        try:
            load = os.getloadavg()[0] * cores / (os.cpu_count() or cores)
        except (AttributeError, OSError):
            load = 0.0
        # The 1-minute average lags a load that just began: the processes runnable right now count too.
        load = max(load, float(_running_others()))
        # Whole busy cores only: a load of 0.6 (the tail of our own last command, often) leaves the cores free.
        n = max(1, cores - math.floor(load))
    else:
        n = max(1, int(requested))
    torch.set_num_threads(n)
    try:
        import cv2
    except ImportError:
        pass
    else:
        cv2.setNumThreads(n)
    return n

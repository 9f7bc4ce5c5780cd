"""Where segments run: Ray actors, or a local process pool (same outputs)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ConfigError, VideoAnomalyError
from .markers import _marker
from .segments import Segment
from .worker import SegmentWorker, WorkerConfig

ENGINES = ("auto", "ray", "local")


_POOL_WORKER: SegmentWorker | None = None


def _pool_init(config: WorkerConfig) -> None:
    global _POOL_WORKER
    _POOL_WORKER = SegmentWorker(config)


def _pool_run(seg: Segment) -> dict[str, Any]:
    assert _POOL_WORKER is not None
    return _POOL_WORKER.run(seg)


class LocalBackend:
    """``workers`` processes on this machine (spawned: no fork after OpenCV and torch started their threads)."""

    name = "local"

    def __init__(self, config: WorkerConfig, workers: int):
        self.config, self.workers = config, workers

    def run(self, segments: list[Segment]) -> Iterator[dict[str, Any]]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        if not segments:
            return
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_pool_init, initargs=(self.config,))
        try:
            todo = iter(segments)
            pending = set()
            # A bounded number in flight: a billion frames make a long list of segments, not of futures.
            for seg in todo:
                pending.add(pool.submit(_pool_run, seg))
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        marker = fut.result()
                    except BrokenProcessPool:
                        raise VideoAnomalyError(
                            "archive: a worker process died (killed? out of memory?); what was done is kept: rerun "
                            "the same command to resume"
                        ) from None
                    yield marker
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.add(pool.submit(_pool_run, nxt))
        finally:
            # Interrupted: segments not started are dropped (a rerun does them); running ones finish and are kept.
            pool.shutdown(wait=True, cancel_futures=True)


class RayBackend:
    """``workers`` Ray actors (``cpus_per_worker`` CPUs each), each loading the detector once.

    Joins the cluster at ``address`` (or ``RAY_ADDRESS``); else starts a local Ray with ``workers x
    cpus_per_worker`` CPUs (no dashboard, worker logs kept off the terminal). A Ray already initialised in this
    process (a test, a notebook) is used as it is and left running.
    """

    name = "ray"

    def __init__(self, config: WorkerConfig, workers: int, cpus_per_worker: float, address: str | None):
        import ray

        self.ray = ray
        self.config, self.workers, self.cpus = config, workers, cpus_per_worker
        self.started = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if address is None:  # "local": a new Ray of our own, even where another runs on this machine
                address, kw["num_cpus"] = "local", max(1, math.ceil(workers * cpus_per_worker))
            ray.init(address=address, **kw)
            self.started = True

    def run(self, segments: list[Segment]) -> Iterator[dict[str, Any]]:
        ray = self.ray
        if not segments:
            return
        # A worker that dies (killed, out of memory, its node lost) is restarted and its segment retried: scoring a
        # segment is idempotent (same part names, atomic renames). Past the retries the segment is recorded failed.
        actor_cls = ray.remote(num_cpus=self.cpus, max_restarts=3, max_task_retries=2)(SegmentWorker)
        actors = [actor_cls.remote(self.config) for _ in range(min(self.workers, len(segments)))]
        todo = iter(segments)
        pending: dict[Any, Any] = {}
        try:
            # Two segments queued per actor: the next one starts as soon as one ends.
            for actor in actors * 2:
                seg = next(todo, None)
                if seg is None:
                    break
                pending[actor.run.remote(seg)] = (actor, seg)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    actor, seg = pending.pop(ref)
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the worker died for good: say so, go on
                        why = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
                        yield _marker(seg, "failed", error=f"{seg.rec.path}: worker failed ({why})")
                        actor = actor_cls.remote(self.config)
                        actors.append(actor)
                    seg = next(todo, None)
                    if seg is not None:
                        pending[actor.run.remote(seg)] = (actor, seg)
        finally:
            for actor in actors:
                ray.kill(actor)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def choose_engine(engine: str, log: Callable[[str], None]) -> str:
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        if ray_available():
            return "ray"
        log('archive: Ray is not installed (pip install "video-anomaly[archive]"): running the segments in a '
            "local process pool instead (same outputs)")  # fmt: skip
        return "local"
    if engine == "ray" and not ray_available():
        raise ConfigError('--engine ray needs Ray: pip install "video-anomaly[archive]" (or --engine local)')
    return engine

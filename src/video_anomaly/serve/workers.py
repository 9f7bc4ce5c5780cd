"""One process per camera, each running the same live session as ``watch``, and the supervisor that keeps them up.

A camera worker (``camera_main``, a spawned process) loads its detector through the public API
(``Detector.load``), opens its source (``sources.open_live_source``) and runs it with ``Detector.watch``: the
session, ``events.EventTracker`` and ``runner.run_source`` of ``video-anomaly watch``, frame for frame. Around it the
worker records events (``recorder.EventRecorder``: rows in the store, each object's snapshot, clip with pre- and
post-roll and score curve), offers frames to the live view (``live.LiveFeed``) and reports its state to the service
over a queue. A lost stream is reopened with back-off inside the worker (state ``lost``, then
``live`` again); SIGTERM closes the open event and ends the worker; a worker whose parent dies (kill -9 of the
service) exits at once without writing, so the restarted service finds that event ``open`` and marks it
``interrupted``.

The supervisor (``Supervisor``, a thread in the service) starts the workers, restarts one that dies with
back-off, starts and stops them by their schedule, and keeps the latest state of each camera for the pages.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..live.redact import redact_source, redact_text
from .config import CameraConfig, ServeConfig
from .outage import Backoff, Outage
from .recorder import EventRecorder

# Worker states, as the pages and MQTT show them.
STARTING, LIVE, LOST, FAILED, ENDED, STOPPED, INACTIVE, RESTARTING = (
    "starting",
    "live",
    "lost",
    "failed",
    "ended",
    "stopped",
    "inactive",
    "restarting",
)


# ---------------------------------------------------------------------------------------- sources


def open_camera_source(cam: CameraConfig, warn: Callable[[str], None]):
    """The camera's ``LiveSource``. With ``loop``: the file or frame folder replayed forever at its frame rate (in
    real time, as a camera would send it; one frame number is skipped at each seam so that the detector restarts
    its clip instead of seeing the cut as motion)."""
    from ..errors import ConfigError, DataError
    from ..live.sources import LiveSource, TimedFrame, open_live_source

    def open_once():
        return open_live_source(cam.source, fps=cam.fps, timeout_s=cam.timeout_s, warn=warn)

    first = open_once()
    if not cam.loop:
        return first
    if first.live:
        first.close()
        raise ConfigError(f"camera {cam.name}: loop = true is for a video file or a frame folder, not {cam.source}")
    fps = first.fps if first.fps and first.fps > 0 else 10.0

    def frames():
        src, offset_i, offset_t = first, 0, 0.0
        t_start = time.monotonic()
        while True:
            n, last_i, last_t = 0, offset_i, offset_t
            timed = src.timed_frames()
            try:
                for index, t, frame in timed:
                    last_i, last_t = offset_i + index, offset_t + t
                    delay = t_start + last_t - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    yield TimedFrame(last_i, last_t, frame)
                    n += 1
            finally:
                timed.close()
                src.close()
            if n == 0:
                raise DataError(None, f"{cam.source}: no frame to loop")
            offset_i, offset_t = last_i + 2, last_t + 2.0 / fps
            src = open_once()

    gen = frames()
    return LiveSource(cam.source, gen, fps, True, gen.close, timed=True)


# ---------------------------------------------------------------------------------------- the worker process


def _peak_rss_mib() -> float | None:
    """This process's peak resident memory in MiB (Linux), else None."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _exit_when_orphaned(parent_pid: int) -> None:
    """The service was killed (kill -9): leave at once, writing nothing, so that the restarted service finds a
    consistent store (the open event ``open``, to be marked ``interrupted``)."""

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(70)
            time.sleep(0.2)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Reporter:
    """A worker's messages to the service over its ``queue``: ``{"kind", "camera", "time", **fields}``. Errors and
    warnings name the source: they go out with its secrets removed (``live.redact.redact_text``)."""

    def __init__(self, cam: CameraConfig, queue):
        self.cam, self.queue = cam, queue
        self.shown = redact_source(cam.source)

    def send(self, kind: str, **fields) -> None:
        for key in ("error", "message"):
            if isinstance(fields.get(key), str):
                fields[key] = redact_text(fields[key].replace(self.cam.source, self.shown))
        self.queue.put({"kind": kind, "camera": self.cam.name, "time": time.time(), **fields})

    def warn(self, message: str) -> None:
        self.send("warning", message=f"camera {self.cam.name}: {message}")


def _watch_once(det, cam: CameraConfig, store, source, report: _Reporter, live_queue=None, live_wanted=None):
    """One live run of an opened ``source`` until it ends, is lost or is stopped, recording its events and
    offering frames to the live view (``live_queue``, drawn while ``live_wanted`` says someone watches); its
    summary (run statistics, CPU seconds, peak memory) is sent. Returns ``(RunStats, frames seen)``."""
    from ..live.events import behaviour_scorer
    from .live import LiveFeed

    # The session's threshold (``LiveSession``: the override, else the detector's for the score).
    threshold = det.threshold(cam.score) if cam.threshold is None else float(cam.threshold)
    run_id = f"{int(time.time() * 1000):x}-{os.getpid()}"
    # The behaviour models' clock is the wall clock (the same as the run's tracker's, ``watch``).
    behaviour = behaviour_scorer(det, source=cam.name, start=datetime.now(), keep=False)
    # The cool-down as the run's tracker has it (``EventTracker.for_detector``: the camera's, else the detector's).
    cooldown = det.config.cooldown if cam.cooldown is None else cam.cooldown
    rec = EventRecorder(cam, store, run_id, threshold, source.fps, report.send, behaviour, cooldown)
    feed = None if live_queue is None else LiveFeed(live_queue, threshold, wanted=live_wanted)

    def on_frame(index, t, fs):
        rec.on_frame(index, t, fs)
        if feed is not None:
            feed.offer(fs)

    report.send("state", state=LIVE, threshold=threshold, fps=0.0, frames=0, in_event=False)
    cpu0 = time.process_time()
    try:
        # The API's live run, as `video-anomaly watch` makes it: session, event tracker, run loop. The recorder
        # follows the run's events with its own tracker, fed the same frames (recorder.py says why).
        *_, stats = det.watch(
            source,
            score=cam.score,
            threshold=cam.threshold,
            end_after=cam.end_after,
            min_length=cam.min_length,
            cooldown=cam.cooldown,
            on_frame=on_frame,
            queue=cam.queue,
            warn=report.warn,
            end_on_error=True,
        )
    finally:
        rec.finish()
    report.send("summary", **stats.to_dict(), cpu_s=round(time.process_time() - cpu0, 3), peak_rss_mib=_peak_rss_mib())
    return stats, rec.frames


def camera_main(
    cam: CameraConfig,
    database: str,
    media: str,
    queue,
    parent_pid: int,
    threads: int = 1,
    live_queue=None,
    live_wanted=None,
) -> int:
    """The body of a camera's worker process (spawned). ``threads``: torch/OpenCV threads of this worker (the
    service shares the cores out among its cameras); ``live_queue``: the live view's slot, ``live_wanted``: until
    when someone watches it (``live.LiveFeed``).
    Returns its exit status: 0 stopped or ended."""
    _exit_when_orphaned(parent_pid)
    from ..device import apply_thread_policy

    apply_thread_policy(threads)  # the API's runs keep this count
    from ..errors import VideoAnomalyError
    from ..live.runner import ENDED, FAILED, INTERRUPTED, LOST, MAX_FRAMES, stop_on_signals
    from .store import Store

    report = _Reporter(cam, queue)
    send = report.send
    backoff = Backoff(cap=cam.retry_max_s)
    outage = Outage(report.warn)
    store = Store(database, media)
    try:
        with stop_on_signals():
            from .. import Detector

            det = Detector.load(cam.detector)
            while True:
                send("state", state=STARTING)
                try:
                    source = open_camera_source(cam, report.warn)
                except VideoAnomalyError as exc:
                    send("state", state=LOST, error=str(exc))
                    delay = backoff.next()
                    outage.failed(str(exc), delay)
                    time.sleep(delay)
                    continue
                stats, frames = _watch_once(det, cam, store, source, report, live_queue, live_wanted)
                if frames:
                    backoff.reset()
                    outage.ended()
                if stats.end == INTERRUPTED:
                    send("state", state=STOPPED, in_event=False)
                    return 0
                if stats.end in (ENDED, MAX_FRAMES):
                    send("state", state=ENDED, in_event=False)
                    return 0
                state = LOST if stats.end == LOST else FAILED
                send("state", state=state, error=stats.error, in_event=False)
                assert stats.end in (LOST, FAILED)
                delay = backoff.next()
                if not frames:
                    outage.failed(f"{report.shown}: opened, but sent no frame: {stats.error}", delay)
                time.sleep(delay)
    except KeyboardInterrupt:  # SIGTERM/SIGINT while opening or waiting: nothing is open
        send("state", state=STOPPED, in_event=False)
        return 0
    finally:
        store.close()


def _worker_entry(*args) -> None:
    sys.exit(camera_main(*args))


# ---------------------------------------------------------------------------------------- the supervisor


class Supervisor:
    """Starts one worker process per camera, restarts the ones that die (back-off), follows the schedules, and
    keeps each camera's latest state (``status()``). ``on_message(msg)`` sees every message a worker sends (on
    the supervisor's thread)."""

    def __init__(
        self,
        config: ServeConfig,
        on_message: Callable[[dict], None] = lambda m: None,
        *,
        clock: Callable[[], datetime] = datetime.now,
    ):
        import multiprocessing as mp

        from ..device import available_cores

        self.config = config
        self.on_message = on_message
        self.threads = max(1, available_cores() // len(config.cameras))
        self.clock = clock
        # spawn, not fork: the service runs threads (uvicorn, MQTT) that a fork would copy mid-flight.
        self._ctx = mp.get_context("spawn")
        self.queue = self._ctx.Queue()
        # The live view: one slot per camera (live.py), the latest frame of each kept in ``live``; a worker draws
        # frames only while its shared "wanted" time (no lock: one float, one writer) is ahead.
        from .live import LiveFrames

        self._live_wanted = {c.name: self._ctx.Value("d", 0.0, lock=False) for c in config.cameras}
        self.live = LiveFrames(self._live_wanted)
        self._live_queues = {c.name: self._ctx.Queue(maxsize=1) for c in config.cameras}
        self._procs: dict[str, Any] = {}
        self._backoff = {c.name: Backoff(cap=c.retry_max_s) for c in config.cameras}
        self._retry_at: dict[str, float] = {}
        self._started_at: dict[str, float] = {}
        self._leaving: set[str] = set()  # workers stopped by their schedule, not yet exited
        self._status: dict[str, dict] = {c.name: {"camera": c.name, "state": STARTING} for c in config.cameras}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)

    def status(self) -> dict[str, dict]:
        with self._lock:
            return {k: dict(v) for k, v in self._status.items()}

    def _set(self, camera: str, **fields) -> None:
        with self._lock:
            self._status[camera].update(fields)

    def start(self) -> None:
        self._thread.start()

    def _spawn(self, cam: CameraConfig) -> None:
        st = self.config.store
        p = self._ctx.Process(
            target=_worker_entry,
            name=f"camera-{cam.name}",
            daemon=True,  # however the service's interpreter ends, it stops its workers (SIGTERM) first
            args=(cam, st.database, str(st.media), self.queue, os.getpid(), self.threads, *self._live(cam.name)),
        )
        p.start()
        self._procs[cam.name] = p
        self._started_at[cam.name] = time.monotonic()
        self._set(cam.name, state=STARTING, pid=p.pid, error=None)

    def _live(self, camera: str) -> tuple:
        """A worker's live-view arguments: its slot and its shared "wanted" time (``live.LiveFeed``)."""
        return self._live_queues[camera], self._live_wanted[camera]

    def _state(self, camera: str, **fields) -> None:
        """A state the supervisor decides (restarting, inactive): told like a worker's, so MQTT hears it too."""
        self._handle({"kind": "state", "camera": camera, **fields})

    def _handle(self, msg: dict) -> None:
        if msg.get("kind") == "state":
            fields = {k: v for k, v in msg.items() if k not in ("kind", "camera")}
            fields["updated"] = fields.pop("time", time.time())
            self._set(msg["camera"], **fields)
        try:
            self.on_message(msg)
        except Exception as exc:  # noqa: BLE001 - a notifier bug must not stop the supervision
            print(f"video-anomaly serve: warning: handling {msg.get('kind')}: {exc}", file=sys.stderr, flush=True)

    def _drain(self, timeout: float) -> None:
        import queue as q

        try:
            msg = self.queue.get(timeout=timeout)
        except q.Empty:
            return
        self._handle(msg)
        while True:
            try:
                self._handle(self.queue.get_nowait())
            except q.Empty:
                return

    def _check(self) -> None:
        now = time.monotonic()
        clock = self.clock()  # read once: two reads can straddle a minute (10:59 + :00 -> 10:00)
        minute = clock.hour * 60 + clock.minute
        for cam in self.config.cameras:
            p = self._procs.get(cam.name)
            active = cam.active_at(minute)
            if p is not None and p.is_alive():
                if not active and cam.name not in self._leaving:
                    # SIGTERM: the worker closes its open event; its exit is seen by a later check (never wait
                    # here: its last messages must be read for it to finish).
                    self._leaving.add(cam.name)
                    p.terminate()
                elif now - self._started_at[cam.name] > 60:
                    self._backoff[cam.name].reset()
                continue
            if p is not None:  # it exited
                self._procs.pop(cam.name)
                p.join()
                self._handle({"kind": "worker_exit", "camera": cam.name, "exitcode": p.exitcode})
                if cam.name in self._leaving:
                    self._leaving.discard(cam.name)
                    self._state(cam.name, state=INACTIVE, in_event=False)
                    continue
                if p.exitcode == 0 and self.status()[cam.name].get("state") == ENDED:
                    continue  # a file that ended: done
                delay = self._backoff[cam.name].next()
                self._retry_at[cam.name] = now + delay
                self._state(
                    cam.name,
                    state=RESTARTING,
                    error=f"worker exited with status {p.exitcode}; restarting in {delay:g} s",
                    in_event=False,
                )
                continue
            if not active:
                if self.status()[cam.name].get("state") != INACTIVE:
                    self._state(cam.name, state=INACTIVE, in_event=False)
                continue
            if self.status()[cam.name].get("state") == ENDED:
                continue
            if now >= self._retry_at.get(cam.name, 0.0):
                self._spawn(cam)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._check()
            self._drain(0.2)
            self.live.poll(self._live_queues)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every worker (each closes its open event and finishes its clip), read their last messages while
        they finish (a worker exits only once its queued messages are read), then stop; SIGKILL after ``timeout``."""
        self._stop.set()
        self._thread.join(5)
        for p in self._procs.values():
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + timeout
        while any(p.is_alive() for p in self._procs.values()) and time.monotonic() < deadline:
            self._drain(0.1)
            self.live.poll(self._live_queues)
        for p in self._procs.values():
            if p.is_alive():
                p.kill()
            p.join(2)
        self._drain(0.2)  # the workers' last words: closed events to notify
        self._release()

    def _release(self) -> None:
        """Close the queues and drop every reference to them (the processes' arguments included): their named
        semaphores (3 a queue) are unlinked when collected. The service ends by the signal that stopped it, so
        multiprocessing's exit hooks never run; without this the resource tracker reports them leaked."""
        import gc

        self.live.poll(self._live_queues)
        for qu in (self.queue, *self._live_queues.values()):
            qu.close()
            qu.join_thread()
        self._procs.clear()
        self._live_queues.clear()
        del self.queue
        gc.collect()

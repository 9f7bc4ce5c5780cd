"""The service put together: the store (migrated), the camera workers, notifications, retention and the web server.

Start-up order: check the config (every detector loads and offers the camera's score; local sources exist), migrate
the store, mark events left ``open`` by a service that died as ``interrupted``, start notifications, the workers
and the retention thread, then serve HTTP. SIGTERM or SIGINT: the web server stops, every worker closes its open
event and finishes its clip, the last notifications go out.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time

from ..errors import ConfigError
from .config import ServeConfig
from .store import Store, notification_json

RETENTION_EVERY_S = 60.0


def _log(msg: str) -> None:
    print(f"video-anomaly serve: {msg}", file=sys.stderr, flush=True)


def check_config(config: ServeConfig) -> None:
    """Fail before anything starts: each detector loads (checksums verified) and has the camera's score; a local
    source exists. One ``ConfigError`` naming the config file and the camera."""
    from pathlib import Path

    from .. import Detector
    from ..errors import VideoAnomalyError
    from ..live.sources import is_stream_url

    loaded: dict[str, object] = {}
    for cam in config.cameras:
        where = f"{config.path}: [cameras.{cam.name}]"
        try:
            det = loaded.get(cam.detector) or Detector.load(cam.detector, device="cpu")
            loaded[cam.detector] = det
            det.session(cam.score, threshold=cam.threshold)
        except VideoAnomalyError as exc:
            raise ConfigError(f"{where} detector: {exc}") from None
        if not (is_stream_url(cam.source) or cam.source.startswith("/dev/")) and not Path(cam.source).exists():
            raise ConfigError(f"{where} source: {cam.source}: no such file or folder")


def remove_unfinished_media(media) -> int:
    """Delete the unfinished media files that a killed service or worker left under ``media``: clips and
    snapshots are written under a hidden temporary name (``.NAME.PID.part``, ``.NAME.HEX.tmp.jpg``) and renamed
    when whole, so a hidden file there is one that never will be; no row points to it. Their count."""
    from pathlib import Path

    n = 0
    for part in Path(media).rglob(".*"):
        if not part.is_file():
            continue
        try:
            part.unlink()
            n += 1
        except OSError as exc:
            _log(f"warning: cannot remove the unfinished media file {part}: {exc}")
    return n


def event_track(row: dict, clip_frames: int) -> list[list[int]]:
    """The event's object on its clip: ``[clip frame, x0, y0, x1, y1]`` per frame of the event, read from the
    store's curve (one row per scored frame, pre-roll first, as the clip holds them: ``[s from the event's start,
    object score, x0, y0, x1, y1, frame score]``); rows before the start (s < 0) are the pre-roll, rows after its
    end none. Empty when the curve cannot be matched with the clip (none, or one that may have dropped its first
    rows: an event that outlasts its clip)."""
    curve = [r for r in row.get("curve") or [] if isinstance(r, list | tuple) and len(r) == 7]
    if not curve or len(curve) != len(row.get("curve") or []) or curve[0][0] > 0.002:
        return []
    steps = sorted(b[0] - a[0] for a, b in zip(curve, curve[1:]) if b[0] > a[0])
    period = steps[len(steps) // 2] if steps else 0.0
    # A curve holds the pre-roll, the longest clip and 4 s more at most (``recorder.EventRecorder.curve_max``)
    # and drops its first rows beyond: one 3 s longer than its clip may have lost them, and row k not be frame k.
    if period and len(curve) - clip_frames >= 3.0 / period:
        return []
    # The row's end is the end of its last frame (its time plus a frame period); the curve goes on while the
    # tracker waits to close the object, so rows from then on are cut by time, half a period early.
    half = period / 2 if period else -0.002  # s is rounded to 1 ms
    end = None if row.get("end_ts") is None else row["end_ts"] - row["start_ts"] - half
    return [[k, *(int(v) for v in r[2:6])] for k, r in enumerate(curve[:clip_frames])
            if r[0] >= -0.0005 and (end is None or r[0] <= end)]  # fmt: skip


def feedback_hook(config: ServeConfig):
    """``on_label`` for the app: a mark "normal" is the detector's feedback, by the path of ``video-anomaly
    feedback`` (``detector.runs.learn_normal``: under the detector folder's lock, learnt once): the event's
    object's regions on its frames of the clip (``event_track``) join the cues that can learn, the thresholds are
    refitted and the folder is saved; the camera's worker uses it from its next start. A shipped detector is never
    changed in place (the mark is stored and the reply says so)."""

    def on_label(row: dict, label: str | None) -> str | None:
        if label != "normal":
            return None
        from .. import Detector, weights
        from ..data.frames import open_source
        from ..detector.runs import learn_normal
        from ..detector.saved import resolve

        try:
            folder, _ = resolve(config.camera(row["camera"]).detector)
            shipped = {weights.folder(n).resolve() for n in weights.MODELS}
            if folder.resolve() in shipped:
                return "stored; a shipped detector is not changed in place: train one for this camera to learn marks"
            if not row.get("clip"):
                return "stored; the event has no clip (yet) to learn from"
            clip = config.store.media / row["clip"]
            track = event_track(row, len(open_source(clip)))
            if not track:
                return (
                    "stored; the event's object cannot be found on its clip (no score curve, or an event that "
                    "outlasts its clip): nothing learnt"
                )
            event = f"serve:{row['camera']}:{row['id']}"
            record = learn_normal(Detector, folder, clip, track[0][0], track[-1][0], event=event, regions=track)
        except Exception as exc:  # noqa: BLE001 - the label is stored whatever the feedback does
            return f"stored; the detector's feedback failed: {exc}"[:400]
        if record.get("skipped"):
            return "stored; the detector has already learnt this event"
        return "stored and learnt by the detector (its camera uses it from the worker's next start)"

    return on_label


def listen(config: ServeConfig):
    """The server's socket, bound before anything starts: a port in use is one error line, not a half-started
    service."""
    import socket

    server = config.server
    family = socket.AF_INET6 if ":" in server.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((server.host, server.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"{config.path}: [server] cannot listen on {server.host}:{server.port}: "
                          f"{(exc.strerror or str(exc)).lower()}") from None  # fmt: skip
    sock.listen(128)
    return sock


class Service:
    def __init__(self, config: ServeConfig):
        from .notify import Notifier
        from .workers import Supervisor

        self.config = config
        self.store = Store(config.store.database, config.store.media)
        found = self.store.migrate()
        # Announced once the notifier runs (start): MQTT and webhooks heard these events start, never end.
        self._interrupted = self.store.interrupt_open_ids()
        if self._interrupted:
            _log(f"{len(self._interrupted)} event(s) left open by a service that stopped abruptly are marked "
                 "interrupted")  # fmt: skip
        removed = remove_unfinished_media(config.store.media)
        if removed:
            _log(f"removed {removed} unfinished media file(s) (*.part) left by a service that stopped abruptly")
        if found == 0:
            _log(f"created the event store at {config.store.database}")
        self.notifier = Notifier(config)
        self.supervisor = Supervisor(config, self._on_message)
        self._stop = threading.Event()
        self._retention = threading.Thread(target=self._retention_loop, name="retention", daemon=True)

    # ------------------------------------------------------------------ messages from the workers
    def _announce(self, kind: str, event_id: int) -> None:
        row = self.store.get(event_id)
        if row is not None:
            self.notifier.event({"type": kind, **notification_json(row, self.config.server.url)})

    def _on_message(self, msg: dict) -> None:
        kind = msg.get("kind")
        if kind in ("event_start", "event"):
            self._announce(kind, msg["id"])
        elif kind == "state":
            s = self.supervisor.status().get(msg["camera"], {})
            from .store import iso

            self.notifier.state(
                msg["camera"],
                {
                    "camera": msg["camera"],
                    "state": s.get("state"),
                    "in_event": bool(s.get("in_event")),
                    "score": s.get("score"),
                    "threshold": s.get("threshold"),
                    "fps": s.get("fps"),
                    "last_frame": iso(s.get("last_frame_ts")),
                    "error": s.get("error"),
                },
            )
        elif kind == "worker_exit" and msg["exitcode"] != 0:
            # A worker that died (killed, crashed) left its open event behind: it is cut off, not lost.
            ids = self.store.interrupt_open_ids(msg["camera"])
            _log(
                f"warning: camera {msg['camera']}: worker exited with status {msg['exitcode']}"
                + (f"; {len(ids)} open event(s) marked interrupted" if ids else "")
            )
            for i in ids:  # the end of an event that was announced: "event", its status interrupted
                self._announce("event", i)
        elif kind == "warning":
            _log(msg["message"])
        elif kind == "summary":
            fields = {k: v for k, v in msg.items() if k not in ("kind", "time")}
            _log("camera run ended: " + json.dumps(fields))

    # ------------------------------------------------------------------ retention
    def retention_once(self) -> list[int]:
        st = self.config.store
        return self.store.apply_retention(
            max_age_s=None if st.max_age_days is None else st.max_age_days * 86400.0,
            max_bytes=None if st.max_size_mb is None else int(st.max_size_mb * 1e6),
        )

    def _retention_loop(self) -> None:
        while not self._stop.is_set():
            try:
                removed = self.retention_once()
                if removed:
                    _log(f"retention: removed {len(removed)} event(s) and their media")
            except Exception as exc:  # noqa: BLE001 - a failed sweep is retried, detection goes on
                _log(f"warning: retention failed: {exc}")
            self._stop.wait(RETENTION_EVERY_S)

    # ------------------------------------------------------------------ life
    def announce_interrupted(self) -> None:
        """The end of each event found open at start (``status`` interrupted): MQTT and webhooks heard it start."""
        ids, self._interrupted = self._interrupted, []
        for i in ids:
            self._announce("event", i)

    def start(self) -> None:
        self.notifier.start()
        self.announce_interrupted()
        self.supervisor.start()
        self._retention.start()

    def stop(self) -> None:
        self._stop.set()
        self.supervisor.stop()
        self.notifier.stop()
        self.store.close()

    def app(self):
        from .app import create_app

        @contextlib.asynccontextmanager
        async def lifespan(_app):
            self.start()
            try:
                yield
            finally:
                _log("stopping: closing open events")
                self.stop()

        return create_app(
            self.config,
            self.store,
            status=self.supervisor.status,
            on_label=feedback_hook(self.config),
            lifespan=lifespan,
            live=self.supervisor.live,
        )

    def run(self, sock=None) -> None:
        """Serve until SIGTERM/SIGINT on ``sock`` (``listen(config)``; bound here when None)."""
        import uvicorn

        sock = sock or listen(self.config)
        server = self.config.server
        if server.host not in ("127.0.0.1", "localhost", "::1"):
            _log(f"warning: listening on {server.host}: anyone who reaches it can read the events and clips"
                 + ("" if server.token else ", and no [server] token is set (labels cannot be changed)")
                 + "; put a reverse proxy with a login and TLS in front")  # fmt: skip
        host, port = sock.getsockname()[:2]
        _log(f"{len(self.config.cameras)} camera(s); pages at http://{host}:{port}/")
        t0 = time.monotonic()
        config = uvicorn.Config(self.app(), log_level="warning", timeout_graceful_shutdown=5)
        uvicorn.Server(config).run(sockets=[sock])
        _log(f"stopped after {time.monotonic() - t0:.0f} s")

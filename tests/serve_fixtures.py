"""Helpers for the `serve` tests: a tiny motion detector, looping recordings, a broker, a webhook receiver.

The scene is the synthetic walkway at 72x96. The detector is the motion cue fitted on its normal videos (seconds on
the CPU). The two recordings are rendered from seeds fixed here once: "quiet" holds only pedestrians, "yard" a
bicycle crossing from frame 30 (frames 31-48 on screen), which the fitted motion cue raises as one event.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

H, W, FRAMES = 72, 96, 80
ANOMALY_FROM = 30
TOKEN = "test-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_text(tmp: Path, text: str):
    """The ``ServeConfig`` of ``text`` written to ``tmp/serve.toml``."""
    from video_anomaly.serve.config import load_config

    path = tmp / "serve.toml"
    path.write_text(text)
    return load_config(path)


def fit_detector(tmp: Path) -> Path:
    """A motion detector (8-px cells) fitted on 6 normal videos of the synthetic scene by `video-anomaly train`."""
    import warnings

    from video_anomaly.cli import main
    from video_anomaly.data.synthetic import make_synthetic_scene

    root = make_synthetic_scene(tmp / "scene", seed=0, height=H, width=W, n_train=6, n_test=0, frames=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "calibration rests on few frames": expected at this size
        assert main(["train", str(root), "--out", str(tmp / "det"), "--motion-cell", "8", "--quiet"]) == 0
    return tmp / "det"


def render(kind: str | None, i: int) -> tuple[np.ndarray, np.ndarray]:
    """``(frames (FRAMES, H, W) uint8, labels (FRAMES,) bool)`` of the scene with a ``kind`` anomaly or none."""
    from video_anomaly.data.synthetic import _Scene

    scene = _Scene(H, W, np.random.default_rng([0, 99]))
    rng = np.random.default_rng([0, 5, i, 7 if kind else 4])
    movers = [scene.anomaly(rng, kind, ANOMALY_FROM)] if kind else []
    v = scene.render(rng, FRAMES, movers)
    return v.frames, v.labels


def recordings(tmp: Path) -> dict[str, Path]:
    """Frame folders: ``quiet`` (normal) and ``yard`` (a bicycle)."""
    from live_fixtures import write_folder

    return {
        "quiet": write_folder(render(None, 0)[0], tmp / "quiet"),
        "yard": write_folder(render("bicycle", 1)[0], tmp / "yard"),
    }


def write_config(
    path: Path,
    *,
    detector: Path,
    cameras: dict[str, dict],
    port: int,
    mqtt_port: int | None = None,
    hooks: tuple[str, ...] = (),
    database: str | None = None,
    extra: str = "",
) -> Path:
    lines = ["[server]", 'host = "127.0.0.1"', f"port = {port}", f'token = "{TOKEN}"', "", "[store]"]
    if database:
        lines.append(f'database = "{database}"')
    lines.append("")
    if mqtt_port:
        lines += ["[mqtt]", 'host = "127.0.0.1"', f"port = {mqtt_port}", ""]
    for url in hooks:
        lines += ["[[webhooks]]", f'url = "{url}"', "timeout_s = 2", "retries = 2", ""]
    for name, cam in cameras.items():
        lines.append(f"[cameras.{name}]")
        cam = {"detector": str(detector), **cam}
        for k, v in cam.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    path.write_text("\n".join(lines) + extra)
    return path


@contextlib.contextmanager
def mosquitto():
    """A private broker on a free port of 127.0.0.1 (Debian's mosquitto); yields the port. Skips without it."""
    import pytest

    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None:
        pytest.skip("mosquitto is not installed (make test installs it as root: apt-get install mosquitto)")
    port = free_port()
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(port, 10)
            yield port
        finally:
            proc.terminate()
            proc.wait(5)


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class MqttRecorder:
    """Subscribes to ``video-anomaly/#`` and ``homeassistant/#``; ``messages``: ``[(topic, payload, retained)]``."""

    def __init__(self, port: int):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe([("video-anomaly/#", 1), ("homeassistant/#", 1)])
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload.decode(), bool(m.retain)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@contextlib.contextmanager
def webhook_receiver():
    """An HTTP server on 127.0.0.1 that records every JSON POST; yields ``(url, posts)``."""
    posts: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            posts.append(json.loads(self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", posts
    finally:
        server.shutdown()
        server.server_close()


def start_service(config: Path, log: Path) -> subprocess.Popen:
    """``video-anomaly serve CONFIG`` as a real process (its own process group), stderr to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "video_anomaly", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),
        start_new_session=True,
    )


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the service exited ({proc.returncode}) waiting for {what}:\n{log.read_text() if log else ''}"
            )
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{log.read_text() if log else ''}")

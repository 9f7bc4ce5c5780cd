"""The service's configuration: one TOML file -> frozen dataclasses, every bad value one error naming file and key.

```toml
[server]                     # optional; these are the defaults
host = "127.0.0.1"
port = 8765
token = "a long random string"   # or token_file = "token.txt"; no token: the service is read-only
base_url = "http://nvr.local:8765"   # links in notifications (default http://HOST:PORT)
max_body_kb = 64             # a larger request body is refused (HTTP 413)

[store]
database = "events.sqlite"   # a file beside the config, or any SQLAlchemy URL (postgresql+psycopg://...)
media = "media"              # snapshots and clips, beside the config
max_age_days = 30            # retention by age ...
max_size_mb = 2000           # ... and by total media size, oldest first

[mqtt]                       # optional
host = "127.0.0.1"
port = 1883
topic_prefix = "video-anomaly"
discovery_prefix = "homeassistant"   # "" turns Home Assistant's discovery messages off

[[webhooks]]                 # optional, any number
url = "http://127.0.0.1:9000/hook"
timeout_s = 5
retries = 3
secret = "shared with the receiver"  # optional: an HMAC-SHA256 signature header on each POST

[cameras.yard]               # one table per camera; the name is the table's
source = "rtsp://camera.local/stream"   # file, frame folder, /dev/videoN, rtsp://, http://, udp://
detector = "ucsd-ped2"       # a detector folder (relative to the config) or a shipped name
threshold = 1.5              # optional overrides: alarm threshold, score, event lengths, active hours
schedule = ["07:00-19:00"]
```
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# Both are used with fullmatch: ``match`` with ``$`` lets a trailing newline through ("cam1\n"), which then
# breaks MQTT topics and log lines.
CAMERA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TIME_RANGE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class CameraConfig:
    """One camera. ``schedule``: active ranges in minutes of the local day ``((start, end), ...)``, a range may
        wrap midnight (``22:00-06:00``); empty: always active. ``loop``: a file or frame folder replayed forever at
        ``fps`` frames per second (a recording standing in for a camera). ``retry_max_s``: the longest wait between two
    tries to reopen a lost source (the waits double from 1 s). Seconds throughout."""

    name: str
    source: str
    detector: str
    score: str | None = None
    threshold: float | None = None
    min_length: int = 3
    end_after: int = 5
    cooldown: int | None = None  # frames after an event before the next of the same place (None: the detector's)
    schedule: tuple[tuple[int, int], ...] = ()
    fps: float | None = None
    loop: bool = False
    timeout_s: float = 10.0
    queue: int = 64
    pre_roll_s: float = 2.0
    post_roll_s: float = 2.0
    max_clip_s: float = 30.0
    retry_max_s: float = 30.0

    def active_at(self, minute_of_day: int) -> bool:
        if not self.schedule:
            return True
        for start, end in self.schedule:
            if start <= end and start <= minute_of_day < end:
                return True
            if start > end and (minute_of_day >= start or minute_of_day < end):
                return True
        return False


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    base_url: str | None = None
    max_body_kb: float = 64.0  # the largest request body taken (a label is a few bytes)

    @property
    def url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True)
class StoreConfig:
    """``database``: a SQLAlchemy URL. ``media``: the folder of snapshots and clips. Retention: events older than
    ``max_age_days`` go, then the oldest until the media fit in ``max_size_mb`` (None: no limit)."""

    database: str
    media: Path
    max_age_days: float | None = 30.0
    max_size_mb: float | None = 2000.0


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    topic_prefix: str = "video-anomaly"
    discovery_prefix: str = "homeassistant"
    keepalive_s: int = 30


@dataclass(frozen=True)
class WebhookConfig:
    """``secret``: when given, each POST carries ``X-Video-Anomaly-Signature: sha256=HEX``, the HMAC-SHA256 of the
    body under it, so the receiver can tell the service's messages from anyone's."""

    url: str
    timeout_s: float = 5.0
    retries: int = 3
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ServeConfig:
    path: Path
    server: ServerConfig
    store: StoreConfig
    cameras: tuple[CameraConfig, ...]
    mqtt: MqttConfig | None = None
    webhooks: tuple[WebhookConfig, ...] = field(default_factory=tuple)

    def camera(self, name: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise KeyError(name)


class _Table:
    """A TOML table being read: typed getters that name ``file: [table] key`` in their errors, and a check that
    no unknown key is left over (a typo is an error, not a silent default)."""

    def __init__(self, path: Path, name: str, data: Any):
        self.path, self.name = path, name
        if not isinstance(data, dict):
            self.fail(None, f"must be a table, got {type(data).__name__}")
        self.data = dict(data)
        self.used: set[str] = set()

    def fail(self, key: str | None, problem: str):
        where = f"[{self.name}]" + (f" {key}" if key else "")
        raise ConfigError(f"{self.path}: {where}: {problem}")

    def get(self, key: str, kinds: tuple[type, ...], default=None, *, required: bool = False):
        self.used.add(key)
        if key not in self.data:
            if required:
                self.fail(key, "is required")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in kinds:
            self.fail(key, f"must be {' or '.join(k.__name__ for k in kinds)}, got a boolean")
        if not isinstance(value, kinds):
            self.fail(key, f"must be {' or '.join(k.__name__ for k in kinds)}, got {type(value).__name__}")
        return value

    def string(self, key: str, default=None, *, required: bool = False) -> str | None:
        value = self.get(key, (str,), default, required=required)
        if value is not None and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def number(self, key: str, default=None, *, positive: bool = True, integer: bool = False):
        value = self.get(key, (int,) if integer else (int, float), default)
        if value is None:
            return None
        if not math.isfinite(value) or (positive and value <= 0) or (not positive and value < 0):
            self.fail(key, f"must be a finite {'positive' if positive else 'non-negative'} number, got {value}")
        return value if integer else float(value)

    def port(self, key: str, default: int, *, lowest: int) -> int:
        """A TCP port in ``lowest..65535`` (0: the system picks one)."""
        value = self.number(key, default, positive=lowest > 0, integer=True)
        if value > 65535:
            self.fail(key, f"must be {lowest}..65535, got {value}")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(unknown[0], "unknown key (a typo?)")


def _schedule(t: _Table) -> tuple[tuple[int, int], ...]:
    ranges = t.get("schedule", (list,), [])
    out = []
    for item in ranges:
        m = _TIME_RANGE.fullmatch(item) if isinstance(item, str) else None
        if m is None:
            t.fail("schedule", f'each entry is "HH:MM-HH:MM", got {item!r}')
        h0, m0, h1, m1 = (int(g) for g in m.groups())
        if h0 > 24 or h1 > 24 or m0 > 59 or m1 > 59 or h0 * 60 + m0 > 1440 or h1 * 60 + m1 > 1440:
            t.fail("schedule", f"not a time of day: {item!r}")
        if h0 * 60 + m0 == h1 * 60 + m1:
            t.fail("schedule", f"an empty range: {item!r}")
        out.append((h0 * 60 + m0, h1 * 60 + m1))
    return tuple(out)


def _resolve_local(base: Path, value: str) -> str:
    """A relative path that exists beside the config is taken from there; names and URLs are kept as given."""
    if "://" in value or value.startswith("/dev/"):
        return value
    p = Path(value).expanduser()
    if not p.is_absolute() and (base / p).exists():
        return str((base / p).resolve())
    return str(p)


def _camera(path: Path, name: str, data: Any) -> CameraConfig:
    from ..fusion.scores import SCORES

    t = _Table(path, f"cameras.{name if name.isprintable() else repr(name)}", data)
    if not CAMERA_NAME.fullmatch(name):
        t.fail(None, "a camera name is letters, digits, '_' and '-' (at most 64, starting with a letter or digit)")
    base = path.parent
    live = tuple(n for n, s in SCORES.items() if s.protocol == "live")
    score = t.string("score")
    if score is not None and score not in live:
        t.fail("score", f"{score!r} is not a live score; live scores: {', '.join(live)}")
    if "target_far" in t.data:
        t.used.add("target_far")
        t.fail(
            "target_far",
            "a false-alarm rate needs the detector's held-out frames: recalibrate a copy with "
            "`video-anomaly calibrate DETECTOR --target-far RATE` and name that folder",
        )
    threshold = t.get("threshold", (int, float))
    if threshold is not None and not math.isfinite(threshold):
        t.fail("threshold", f"must be finite, got {threshold}")
    cam = CameraConfig(
        name=name,
        source=_resolve_local(base, t.string("source", required=True)),
        detector=_resolve_local(base, t.string("detector", required=True)),
        score=score,
        threshold=None if threshold is None else float(threshold),
        min_length=t.number("min_length", 3, integer=True),
        end_after=t.number("end_after", 5, integer=True),
        cooldown=t.number("cooldown", None, positive=False, integer=True),
        schedule=_schedule(t),
        fps=t.number("fps"),
        loop=t.get("loop", (bool,), False),
        timeout_s=t.number("timeout_s", 10.0),
        queue=t.number("queue", 64, integer=True),
        pre_roll_s=t.number("pre_roll_s", 2.0, positive=False),
        post_roll_s=t.number("post_roll_s", 2.0, positive=False),
        max_clip_s=t.number("max_clip_s", 30.0),
        retry_max_s=t.number("retry_max_s", 30.0),
    )
    t.done()
    return cam


def _database(base: Path, value: str) -> str:
    if "://" in value:
        return value
    p = Path(value).expanduser()
    return f"sqlite:///{(p if p.is_absolute() else base / p).resolve()}"


def _server(t: _Table, base: Path) -> ServerConfig:
    token = t.string("token")
    token_file = t.string("token_file")
    if token and token_file:
        t.fail("token_file", "give token or token_file, not both")
    if token_file:
        tf = Path(token_file).expanduser()
        tf = tf if tf.is_absolute() else base / tf
        try:
            token = tf.read_text().strip()
        except OSError as exc:
            t.fail("token_file", f"{tf}: cannot read: {exc.strerror}")
        if not token:
            t.fail("token_file", f"{tf}: is empty")
    if token is not None and len(token) < 8:
        t.fail("token", "must be at least 8 characters")
    port = t.port("port", 8765, lowest=0)
    return ServerConfig(host=t.string("host", "127.0.0.1"), port=port, token=token, base_url=t.string("base_url"),
                        max_body_kb=t.number("max_body_kb", 64.0))  # fmt: skip


def _store(t: _Table, base: Path) -> StoreConfig:
    media = Path(t.string("media", "media")).expanduser()
    return StoreConfig(
        database=_database(base, t.string("database", "events.sqlite")),
        media=(media if media.is_absolute() else base / media).resolve(),
        max_age_days=t.number("max_age_days", 30.0),
        max_size_mb=t.number("max_size_mb", 2000.0),
    )


def _mqtt(t: _Table) -> MqttConfig:
    return MqttConfig(
        port=t.port("port", 1883, lowest=1),
        host=t.string("host", "127.0.0.1"),
        username=t.string("username"),
        password=t.get("password", (str,)),
        topic_prefix=t.string("topic_prefix", "video-anomaly").strip("/"),
        discovery_prefix=t.get("discovery_prefix", (str,), "homeassistant").strip("/"),
        keepalive_s=t.number("keepalive_s", 30, integer=True),
    )


def _webhook(t: _Table) -> WebhookConfig:
    url = t.string("url", required=True)
    if not url.startswith(("http://", "https://")):
        t.fail("url", f"must be an http:// or https:// URL, got {url!r}")
    return WebhookConfig(
        url, t.number("timeout_s", 5.0), t.number("retries", 3, positive=False, integer=True), t.string("secret")
    )


def _section(path: Path, name: str, data: Any, read: Callable[[_Table], Any]) -> Any:
    """``read`` one table of the config, then refuse any key it did not read."""
    t = _Table(path, name, data)
    value = read(t)
    t.done()
    return value


def load_config(path: str | Path) -> ServeConfig:
    """Read and check a service config (see the module docstring). Raises ``ConfigError`` naming file and key."""
    from ..seed.config import read_toml

    path = Path(path)
    doc = read_toml(path)
    base = path.resolve().parent
    top = _Table(path, "top level", doc)
    for key in ("server", "store", "mqtt", "webhooks", "cameras"):
        top.used.add(key)
    top.done()
    server = _section(path, "server", doc.get("server", {}), lambda t: _server(t, base))
    store = _section(path, "store", doc.get("store", {}), lambda t: _store(t, base))
    mqtt = _section(path, "mqtt", doc["mqtt"], _mqtt) if "mqtt" in doc else None
    hooks = doc.get("webhooks", [])
    if not isinstance(hooks, list):
        top.fail("webhooks", "must be an array of tables: [[webhooks]]")
    webhooks = tuple(_section(path, f"webhooks.{i}", h, _webhook) for i, h in enumerate(hooks))
    cams = doc.get("cameras")
    if not isinstance(cams, dict) or not cams:
        raise ConfigError(f"{path}: [cameras]: no camera: add a table [cameras.NAME] with source and detector")
    cameras = tuple(_camera(path, name, data) for name, data in cams.items())
    return ServeConfig(path=path.resolve(), server=server, store=store, cameras=cameras, mqtt=mqtt, webhooks=webhooks)

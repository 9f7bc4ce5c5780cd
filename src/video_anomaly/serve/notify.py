"""Notifications: MQTT (paho-mqtt) and webhooks, sent from their own threads so that nothing waits on them.

MQTT topics (``PREFIX`` is ``[mqtt] topic_prefix``, ``video-anomaly`` by default):

* ``PREFIX/<camera>/events``: one JSON message per event when it starts (``"type": "event_start"``) and when it
  is complete, with its snapshot and clip (``"type": "event"``); QoS 1, not retained.
* ``PREFIX/<camera>/state``: the camera's state (``live``, ``lost``, ...), whether an event is open, its score and
  threshold; QoS 1, retained, sent when it changes and every 30 s.
* ``PREFIX/status``: ``online``/``offline`` (retained; ``offline`` is the broker's last will).
* Home Assistant's MQTT discovery (``<discovery_prefix>/binary_sensor/...`` and ``.../sensor/...``, retained):
  one "anomaly" binary sensor and one "anomaly score" sensor per camera.

paho's network thread connects and reconnects on its own and queues QoS-1 messages while the broker is down, so a
broker that is away stalls nothing. Webhooks: each URL has a bounded queue and a thread that POSTs JSON with a
timeout and retries (back-off 1, 2, 4 ... s), signed with HMAC-SHA256 when the webhook has a ``secret``; when the
queue is full the oldest message is dropped with a warning.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import sys
import threading
import time
from collections.abc import Callable

from .config import MqttConfig, ServeConfig, WebhookConfig

SIGNATURE_HEADER = "X-Video-Anomaly-Signature"


def _warn(msg: str) -> None:
    print(f"video-anomaly serve: warning: {msg}", file=sys.stderr, flush=True)


class Mqtt:
    def __init__(self, cfg: MqttConfig, cameras: tuple[str, ...], *, warn: Callable[[str], None] = _warn):
        import paho.mqtt.client as mqtt

        self.cfg, self.cameras, self.warn = cfg, cameras, warn
        self.prefix = cfg.topic_prefix
        self._retained: dict[str, str] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"video-anomaly-{id(self):x}")
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.will_set(f"{self.prefix}/status", "offline", qos=1, retain=True)
        self.client.max_queued_messages_set(10_000)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self._connected_once = False

    def start(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        info = self.client.publish(f"{self.prefix}/status", "offline", qos=1, retain=True)
        try:
            if self.client.is_connected():
                info.wait_for_publish(timeout=2.0)
        except (RuntimeError, ValueError):
            pass
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, _userdata, _flags, reason_code, _props=None) -> None:
        if reason_code.is_failure:
            self.warn(f"MQTT broker {self.cfg.host}:{self.cfg.port} refused the connection: {reason_code}")
            return
        client.publish(f"{self.prefix}/status", "online", qos=1, retain=True)
        if self.cfg.discovery_prefix:
            for cam in self.cameras:
                for topic, payload in discovery_messages(self.cfg, cam):
                    client.publish(topic, json.dumps(payload), qos=1, retain=True)
        for topic, payload in list(self._retained.items()):  # state retained while the broker was away
            client.publish(topic, payload, qos=1, retain=True)

    def publish(self, topic: str, payload: dict, *, retain: bool = False) -> None:
        text = json.dumps(payload)
        if retain:
            self._retained[topic] = text
        self.client.publish(topic, text, qos=1, retain=retain)  # non-blocking: queued for paho's thread

    def event(self, camera: str, payload: dict) -> None:
        self.publish(f"{self.prefix}/{camera}/events", payload)

    def state(self, camera: str, payload: dict) -> None:
        self.publish(f"{self.prefix}/{camera}/state", payload, retain=True)


def discovery_messages(cfg: MqttConfig, camera: str) -> list[tuple[str, dict]]:
    """Home Assistant MQTT discovery: ``(topic, config)`` for the camera's anomaly binary sensor and score sensor."""
    state_topic = f"{cfg.topic_prefix}/{camera}/state"
    device = {
        "identifiers": [f"video_anomaly_{camera}"],
        "name": f"video-anomaly {camera}",
        "manufacturer": "video-anomaly",
    }
    avail = {"availability_topic": f"{cfg.topic_prefix}/status"}
    uid = f"video_anomaly_{camera}"
    return [
        (
            f"{cfg.discovery_prefix}/binary_sensor/{uid}/anomaly/config",
            {
                "name": "anomaly",
                "unique_id": f"{uid}_anomaly",
                "state_topic": state_topic,
                "device_class": "motion",
                "value_template": "{{ 'ON' if value_json.in_event else 'OFF' }}",
                "device": device,
                **avail,
            },
        ),
        (
            f"{cfg.discovery_prefix}/sensor/{uid}/score/config",
            {
                "name": "anomaly score",
                "unique_id": f"{uid}_score",
                "state_topic": state_topic,
                "value_template": "{{ value_json.score }}",
                "state_class": "measurement",
                "device": device,
                **avail,
            },
        ),
    ]


class Webhook:
    """POST JSON to one URL from a thread: ``timeout_s`` per try, ``retries`` more tries with back-off."""

    def __init__(
        self, cfg: WebhookConfig, *, maxsize: int = 1000, warn: Callable[[str], None] = _warn, backoff_s: float = 1.0
    ):
        self.cfg, self.warn, self.backoff_s = cfg, warn, backoff_s
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.sent = self.failed = self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def post(self, payload: dict) -> None:
        while True:
            try:
                self.queue.put_nowait(payload)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                    self.warn(f"webhook {self.cfg.url}: queue full, dropped the oldest message")
                except queue.Empty:
                    pass

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=self.cfg.timeout_s) as client:
            while not (self._stop.is_set() and self.queue.empty()):
                try:
                    payload = self.queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._send(client, payload)

    def _send(self, client, payload: dict) -> None:
        import httpx

        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.cfg.secret:
            digest = hmac.new(self.cfg.secret.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        for attempt in range(self.cfg.retries + 1):
            try:
                r = client.post(self.cfg.url, content=body, headers=headers)
                if r.status_code < 500 and r.status_code != 429:
                    if r.status_code >= 400:
                        self.warn(f"webhook {self.cfg.url}: refused with HTTP {r.status_code}")
                        self.failed += 1
                    else:
                        self.sent += 1
                    return
                problem = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                problem = str(exc) or type(exc).__name__
            if attempt < self.cfg.retries and not self._stop.is_set():
                time.sleep(self.backoff_s * 2**attempt)
        self.failed += 1
        self.warn(f"webhook {self.cfg.url}: gave up after {self.cfg.retries + 1} tries: {problem}")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


class Notifier:
    """Everything that leaves the service: MQTT and webhooks. ``event(payload)`` and ``state(camera, payload)``
    return at once."""

    STATE_EVERY_S = 30.0

    def __init__(self, config: ServeConfig, *, warn: Callable[[str], None] = _warn):
        cams = tuple(c.name for c in config.cameras)
        self.mqtt = Mqtt(config.mqtt, cams, warn=warn) if config.mqtt else None
        self.webhooks = [Webhook(w, warn=warn) for w in config.webhooks]
        self._last_state: dict[str, tuple[tuple, float]] = {}

    def start(self) -> None:
        if self.mqtt:
            self.mqtt.start()
        for w in self.webhooks:
            w.start()

    def stop(self) -> None:
        for w in self.webhooks:
            w.stop()
        if self.mqtt:
            self.mqtt.stop()

    def event(self, payload: dict) -> None:
        if self.mqtt:
            self.mqtt.event(payload["camera"], payload)
        for w in self.webhooks:
            w.post(payload)

    def state(self, camera: str, payload: dict) -> None:
        """Publish the camera's state when what matters changed (state, in_event) or every ``STATE_EVERY_S``."""
        if not self.mqtt:
            return
        key = (payload.get("state"), bool(payload.get("in_event")))
        last = self._last_state.get(camera)
        now = time.monotonic()
        if last is not None and last[0] == key and now - last[1] < self.STATE_EVERY_S:
            return
        self._last_state[camera] = (key, now)
        self.mqtt.state(camera, payload)

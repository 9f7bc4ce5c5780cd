"""`serve` in parts: the config's errors, the pages and API (escaping, the token), notifications that never block,
the recording of an event by a worker (rows, snapshot, clip with pre- and post-roll)."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from serve_fixtures import TOKEN, free_port, webhook_receiver  # noqa: E402
from serve_fixtures import load_text as _load  # noqa: E402

CAMERA = """
[cameras.yard]
source = "rtsp://admin:hunter2@cam.local/stream"
detector = "ucsd-ped2"
"""


# ------------------------------------------------------------------ config


def test_config_defaults_and_paths(tmp_path):
    cfg = _load(tmp_path, f'[server]\ntoken = "{TOKEN}"\n' + CAMERA + 'schedule = ["22:00-06:00", "12:00-13:00"]\n')
    assert cfg.server.host == "127.0.0.1" and cfg.server.token == TOKEN
    assert cfg.store.database == f"sqlite:///{tmp_path.resolve() / 'events.sqlite'}"
    assert cfg.store.media == tmp_path.resolve() / "media"
    cam = cfg.camera("yard")
    assert cam.detector == "ucsd-ped2" and cam.loop is False and cam.threshold is None
    assert [cam.active_at(m) for m in (23 * 60, 3 * 60, 6 * 60, 12 * 60 + 30, 18 * 60)] == [1, 1, 0, 1, 0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nport = 70000\n" + CAMERA, "[server] port: must be 0..65535"),
        ("[server]\ntoken = 'short'\n" + CAMERA, "[server] token: must be at least 8"),
        (CAMERA + "threshold = 'high'\n", "[cameras.yard] threshold: must be int or float, got str"),
        (CAMERA + "min_length = 0\n", "[cameras.yard] min_length: must be a finite positive"),
        (CAMERA + "schedule = ['7-19']\n", '[cameras.yard] schedule: each entry is "HH:MM-HH:MM"'),
        (CAMERA + "treshold = 2\n", "[cameras.yard] treshold: unknown key"),
        (CAMERA + "score = 'seed'\n", "[cameras.yard] score: 'seed' is not a live score"),
        (CAMERA + "target_far = 0.01\n", "[cameras.yard] target_far: a false-alarm rate needs"),
        (CAMERA + "loop = 1\n", "[cameras.yard] loop: must be bool"),
        ("[cameras.yard]\ndetector = 'x'\n", "[cameras.yard] source: is required"),
        ("[cameras.'a b']\nsource = 'x'\ndetector = 'y'\n", "[cameras.a b]: a camera name is"),
        ("[server]\nport = 1\n", "[cameras]: no camera"),
        ("[[webhooks]]\nurl = 'ftp://x'\n" + CAMERA, "[webhooks.0] url: must be an http"),
        ("[mqtt]\nport = 'x'\n" + CAMERA, "[mqtt] port: must be int"),
        ("[mqtt]\nport = 70000\n" + CAMERA, "[mqtt] port: must be 1..65535"),
        ("[cameras\n", "not valid TOML"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path, text, expected):
    from video_anomaly.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    msg = str(err.value)
    assert msg.startswith(str(tmp_path / "serve.toml")) and expected in msg and "\n" not in msg


def test_serve_command_bad_config_is_one_line(tmp_path, capsys):
    from video_anomaly.cli import main

    (tmp_path / "serve.toml").write_text(CAMERA.replace("ucsd-ped2", str(tmp_path / "nope")))
    assert main(["serve", str(tmp_path / "serve.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "[cameras.yard] detector" in err, err
    assert main(["serve", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err


# ------------------------------------------------------------------ pages and API


@pytest.fixture()
def client(tmp_path):
    from fastapi.testclient import TestClient

    from video_anomaly.serve.app import create_app
    from video_anomaly.serve.store import CLOSED, Store

    cfg = _load(
        tmp_path, f'[server]\ntoken = "{TOKEN}"\n' + CAMERA + '\n[cameras.gate]\nsource = "x"\ndetector = "y"\n'
    )
    store = Store(cfg.store.database, cfg.store.media)
    store.migrate()
    for k, cam in enumerate(("yard", "yard", "gate")):
        store.record(
            f"{cam}/r/{k}",
            camera=cam,
            run_id="r",
            start_frame=k,
            status=CLOSED,
            start_ts=1e9 + 100 * k,
            end_ts=1e9 + 100 * k + 2,
            threshold=1.5,
            peak_score=3.0,
            bbox=[1, 2, 3, 4],
            curve=[[-1.0, 0.5], [0.0, 2.0], [1.0, 3.0]],
            snapshot='x"><script>alert(1)</script>.jpg',
        )
    labels = []

    def on_label(row, label):
        labels.append((row["id"], label))
        return "<b>fed</b>"

    store.record("gate/r/2", object_label="bicycle", track_id="7", kind="loitering")
    status = {"yard": {"state": "live", "fps": 9.9, "score": 0.4, "threshold": 2.4685306549072266, "in_event": False,
                       "frames": 5}}  # fmt: skip
    from video_anomaly.serve.live import LiveFrames

    live = LiveFrames()
    app = create_app(cfg, store, status=lambda: status, on_label=on_label, live=live)
    with TestClient(app) as c:
        c.labels, c.store, c.live, c.media = labels, store, live, cfg.store.media
        yield c
    store.close()


def test_pages_render_and_escape(client):
    r = client.get("/")
    assert r.status_code == 200 and "live" in r.text
    assert "hunter2" not in r.text and "rtsp://***@cam.local/stream" in r.text  # camera passwords never shown
    r = client.get("/events")
    assert r.status_code == 200 and r.text.count('class="event"') == 3
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    assert client.get("/events?camera=yard").text.count('class="event"') == 2
    assert client.get("/events?since=1000000050").text.count('class="event"') == 2
    r = client.get("/events/1")
    assert r.status_code == 200 and "<polyline" in r.text and "mark normal" in r.text
    assert client.get("/events/99").status_code == 404
    assert client.get("/events?since=yesterday").status_code == 422


def test_api_lists_and_filters(client):
    cams = client.get("/api/cameras").json()
    assert [c["camera"] for c in cams] == ["yard", "gate"] and cams[0]["events"] == 2 and cams[1]["state"] == "unknown"
    evs = client.get("/api/events", params={"camera": "yard", "until": "2001-09-09T01:48:00Z"}).json()
    assert [e["id"] for e in evs] == [1]  # 1e9 s is 2001-09-09T01:46:40Z; event 2 starts 100 s later
    ev = client.get("/api/events/1").json()
    assert (
        ev["curve"] == [[-1.0, 0.5], [0.0, 2.0], [1.0, 3.0]] and ev["duration_s"] == 2.0 and ev["start"].endswith("Z")
    )
    assert client.get("/api/events", params={"camera": "nope"}).status_code == 404


def test_cameras_page_rounds_and_wraps_and_the_api_links_absolutely(client):
    page = client.get("/").text
    assert "2.47" in page and "2.4685306549072266" not in page  # 3 significant digits
    css = client.get("/static/style.css").text
    assert 'class="source"' in page and "td.source" in css and "overflow-wrap: anywhere" in css
    ev = client.get("/api/events/1").json()
    assert ev["url"] == "http://127.0.0.1:8765/events/1" and ev["snapshot_url"].startswith(
        "http://127.0.0.1:8765/media/"
    )
    assert client.get("/api/events").json()[0]["url"].startswith("http://127.0.0.1:8765/events/")


def test_unfinished_media_are_never_served(client):
    day = client.media / "yard" / "2026-12-05"
    day.mkdir(parents=True)
    (day / "yard_r_1.webm").write_bytes(b"whole")
    (day / ".yard_r_2.webm.4242.part").write_bytes(b"half")
    assert client.get("/media/yard/2026-12-05/yard_r_1.webm").status_code == 200
    assert client.get("/media/yard/2026-12-05/.yard_r_2.webm.4242.part").status_code == 404


def test_event_page_shows_its_object_and_says_interrupted_plainly(client):
    from video_anomaly.serve.store import INTERRUPTED, OPEN

    i = client.store.record("yard/r/9", camera="yard", run_id="r", start_frame=9, status=OPEN, start_ts=1e9 + 900,
                            threshold=1.5)  # fmt: skip
    client.store.interrupt_open()
    page = client.get(f"/events/{i}").text
    assert client.store.get(i)["status"] == INTERRUPTED
    assert "(open)" not in page and "→" not in page and "interrupted: the service stopped during this event" in page
    # The object's own curve (rows of 7: the frame's score last): its peak is said as the object's region's.
    curve = [[-0.1, 0.2, 0, 0, 8, 8, 0.3], [0.0, 3.0, 0, 0, 8, 8, 1.7], [0.1, 2.0, 0, 0, 8, 8, 2.9]]
    j = client.store.record("yard/r/10", camera="yard", run_id="r", start_frame=10, status="closed",
                            start_ts=1e9 + 950, end_ts=1e9 + 951, peak_ts=1e9 + 950, peak_score=3.0, threshold=1.5,
                            curve=curve, bbox=[0, 0, 8, 8], clip="yard/x.webm")  # fmt: skip
    page = client.get(f"/events/{j}").text
    assert "peak (object region) 3" in page and "the frame's score there: 1.7" in page and "track " not in page
    assert 'id="frame-curve"' in page and 'id="object-curve"' in page and 'id="clip-box"' in page


def test_camera_page_has_a_live_view_and_a_timeline_with_thumbnails(client):
    assert client.get("/api/cameras/yard/live.jpg").status_code == 503  # no frame yet
    from video_anomaly.serve.live import render_jpeg

    m = np.zeros((4, 6), np.float32)
    m[1, 2] = 3.0
    jpeg = render_jpeg(np.full((32, 48), 90, np.uint8), m, 1.5)
    client.live.put("yard", jpeg)
    r = client.get("/api/cameras/yard/live.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content == jpeg
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
    assert rgb[12, 20, 0] > rgb[12, 20, 2] + 60 and abs(rgb[28, 4, 0] - 90) < 8  # heat over the region, grey elsewhere
    with client.stream("GET", "/api/cameras/yard/live.mjpeg") as s:
        assert s.headers["content-type"].startswith("multipart/x-mixed-replace; boundary=")
        first = next(s.iter_bytes())
    assert first.startswith(b"--frame\r\nContent-Type: image/jpeg") and jpeg in first
    assert client.get("/api/cameras/nope/live.mjpeg").status_code == 404
    page = client.get("/cameras/yard?day=2001-09-09").text
    assert 'id="live"' in page and 'data-stream="/api/cameras/yard/live.mjpeg"' in page
    assert page.count('class="mark status-closed"') == 2 and page.count('<img class="snapshot"') == 2
    assert "No event on 2001-09-10" in client.get("/cameras/yard?day=2001-09-10").text
    assert client.get("/cameras/yard?day=someday").status_code == 422


def test_the_live_feed_is_bounded_and_never_waits():
    """A worker offers every frame; at most one waits for the service (a full slot drops the new one), and frames
    come at most ``fps`` a second."""
    import multiprocessing as mp

    from video_anomaly.detector import FrameScore
    from video_anomaly.serve.live import LiveFeed, LiveFrames

    qu = mp.get_context("spawn").Queue(maxsize=1)
    feed = LiveFeed(qu, 1.5, fps=1e9)
    m = np.zeros((4, 6), np.float32)
    t0 = time.monotonic()
    for i in range(5):  # nobody reads: the first waits, the others are dropped, none blocks
        feed.offer(FrameScore(i, 0.0, 0.0, False, (0, 0, 8, 8), m, np.full((32, 48), 10 * i, np.uint8)))
    assert time.monotonic() - t0 < 5
    frames = LiveFrames()
    deadline = time.monotonic() + 5
    while frames.latest("yard")[0] == 0 and time.monotonic() < deadline:
        frames.poll({"yard": qu})
    n, jpeg = frames.latest("yard")
    assert n == 1 and jpeg.startswith(b"\xff\xd8")
    slow = LiveFeed(qu, 1.5, fps=0.001)  # one frame, then none for 1000 s
    for i in range(3):
        slow.offer(FrameScore(i, 0.0, 0.0, False, (0, 0, 8, 8), m, np.zeros((32, 48), np.uint8)))
    deadline = time.monotonic() + 5
    while frames.latest("yard")[0] == 1 and time.monotonic() < deadline:
        frames.poll({"yard": qu})
    frames.poll({"yard": qu})
    assert frames.latest("yard")[0] == 2
    qu.close()
    qu.join_thread()


def test_events_filter_by_day_and_object_label(client):
    assert client.get("/api/events", params={"day": "2001-09-09"}).json().__len__() == 3
    assert client.get("/api/events", params={"day": "2001-09-08"}).json() == []
    (ev,) = client.get("/api/events", params={"object": "bicycle"}).json()
    assert ev["camera"] == "gate" and (ev["object_label"], ev["track_id"], ev["kind"]) == ("bicycle", "7", "loitering")
    page = client.get("/events?object=bicycle").text
    assert page.count('class="event"') == 1 and '<option value="bicycle" selected>' in page


def test_labels_need_the_token(client):
    url = "/api/events/1/label"
    assert client.post(url, json={"label": "normal"}).status_code == 401
    assert (
        client.post(url, json={"label": "normal"}, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    )
    assert client.get("/api/events/1").json()["label"] is None and client.labels == []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = client.post(url, json={"label": "normal"}, headers=auth)
    assert r.status_code == 200 and r.json()["label"] == "normal" and r.json()["feedback"] == "<b>fed</b>"
    assert client.labels == [(1, "normal")]
    assert "&lt;b&gt;fed&lt;/b&gt;" in client.get("/events/1").text
    assert client.post(url, json={"label": "maybe"}, headers=auth).status_code == 422
    assert client.post("/api/events/77/label", json={"label": "normal"}, headers=auth).status_code == 404
    assert client.post(url, json={"label": None}, headers=auth).json()["label"] is None


def test_a_service_without_token_is_read_only(tmp_path):
    from fastapi.testclient import TestClient

    from video_anomaly.serve.app import create_app
    from video_anomaly.serve.store import Store

    cfg = _load(tmp_path, CAMERA)
    store = Store(cfg.store.database, cfg.store.media)
    store.migrate()
    with TestClient(create_app(cfg, store)) as c:
        r = c.post("/api/events/1/label", json={"label": "normal"}, headers={"Authorization": "Bearer anything-at-all"})
        assert r.status_code == 403 and "read-only" in r.json()["detail"]


# ------------------------------------------------------------------ notifications


def test_webhook_retries_then_delivers_and_never_blocks():
    import hashlib
    import hmac
    import http.server
    import threading

    from video_anomaly.serve.config import WebhookConfig
    from video_anomaly.serve.notify import Webhook

    got, fails, signatures = [], [2], []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            signatures.append((self.headers.get("X-Video-Anomaly-Signature"), body))
            if fails[0] > 0:  # the first two tries fail
                fails[0] -= 1
                self.send_response(503)
            else:
                got.append(body)
                self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    warnings: list[str] = []
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    hook = Webhook(WebhookConfig(url, 2.0, 3, "s3cret"), warn=warnings.append, backoff_s=0.05)
    dead = Webhook(WebhookConfig(f"http://127.0.0.1:{free_port()}/", 1.0, 1), warn=warnings.append, backoff_s=0.05)
    hook.start()
    dead.start()
    t0 = time.monotonic()
    hook.post({"id": 1})
    dead.post({"id": 1})
    assert time.monotonic() - t0 < 0.1  # posting only queues
    deadline = time.monotonic() + 10
    while (not got or not dead.failed) and time.monotonic() < deadline:
        time.sleep(0.05)
    hook.stop()
    dead.stop()
    httpd.shutdown()
    httpd.server_close()
    assert got == [b'{"id": 1}'] and hook.sent == 1 and fails == [0]
    expected = "sha256=" + hmac.new(b"s3cret", b'{"id": 1}', hashlib.sha256).hexdigest()
    assert [sig for sig, _ in signatures] == [expected] * 3  # every try signed
    assert dead.failed == 1 and any("gave up after 2 tries" in w for w in warnings)


def test_mqtt_to_an_absent_broker_never_blocks(tmp_path):
    pytest.importorskip("paho.mqtt")
    from video_anomaly.serve.config import MqttConfig
    from video_anomaly.serve.notify import Mqtt

    m = Mqtt(MqttConfig(port=free_port()), ("yard",), warn=lambda s: None)
    m.start()
    t0 = time.monotonic()
    for i in range(500):
        m.event("yard", {"id": i})
        m.state("yard", {"state": "live"})
    assert time.monotonic() - t0 < 1.0
    m.stop()


def test_home_assistant_discovery_points_at_the_state_topic():
    from video_anomaly.serve.config import MqttConfig
    from video_anomaly.serve.notify import discovery_messages

    msgs = dict(discovery_messages(MqttConfig(), "yard"))
    binary = msgs["homeassistant/binary_sensor/video_anomaly_yard/anomaly/config"]
    assert binary["state_topic"] == "video-anomaly/yard/state" and "in_event" in binary["value_template"]
    assert msgs["homeassistant/sensor/video_anomaly_yard/score/config"]["unique_id"] == "video_anomaly_yard_score"


# ------------------------------------------------------------------ a worker's recording


SCRIPT = [0.1] * 30 + [2.0, 3.0, 5.0, 4.0, 3.0, 2.0] + [0.1] * 30  # above threshold 1.0 at frames 30-35


def _run_recorder(tmp_path, detector, frames):
    """``frames`` through ``run_source`` with ``detector`` (a stand-in with ``push``) into a worker's
    ``EventRecorder`` (camera "yard", 10 frames/s, threshold 1, pre- and post-roll 1 s); ``(store, sent, stats)``."""
    from video_anomaly.live.events import EventTracker
    from video_anomaly.live.runner import run_source
    from video_anomaly.live.sources import LiveSource
    from video_anomaly.serve.config import CameraConfig
    from video_anomaly.serve.recorder import EventRecorder
    from video_anomaly.serve.store import Store

    store = Store(f"sqlite:///{tmp_path / 'e.sqlite'}", tmp_path / "media")
    store.migrate()
    sent = []
    cam = CameraConfig("yard", "x", "y", min_length=3, end_after=5, pre_roll_s=1.0, post_roll_s=1.0)
    tracker = EventTracker(1.0, fps=10, end_after=cam.end_after, min_length=cam.min_length, source="yard")
    rec = EventRecorder(cam, store, "run1", 1.0, 10.0, lambda kind, **f: sent.append((kind, f)))
    stats = run_source(detector, LiveSource("x", iter(frames), 10.0, False), tracker=tracker, on_frame=rec.on_frame)
    rec.finish()
    return store, sent, stats


def _record(tmp_path, scores=SCRIPT):
    """Frames through ``run_source`` with a scripted detector into a worker's ``EventRecorder``; ``(store, sent,
    frames)``."""
    from video_anomaly.detector import FrameScore

    class Scripted:
        clip_length = 1

        def push(self, frame, index):
            s = scores[index]
            return FrameScore(index, s, s, s > 1.0, (8, 8, 24, 24), None, frame)

    frames = [np.full((32, 48), 10 * (i % 20), np.uint8) for i in range(len(scores))]
    store, sent, stats = _run_recorder(tmp_path, Scripted(), frames)
    assert stats.frames == len(scores)
    return store, sent, frames


def test_recorder_writes_rows_snapshot_and_clip_with_pre_and_post_roll(tmp_path):
    """The worker's recorder fed as `run_source` feeds it: the event's row opens, closes with its peak and curve,
    the snapshot is the peak frame, the clip holds pre-roll + event + post-roll frames."""
    av = pytest.importorskip("av")
    from PIL import Image

    store, sent, frames = _record(tmp_path)
    assert [k for k, _ in sent if k in ("event_start", "event")] == ["event_start", "event"]
    row = store.get_uid("yard/run1/30")
    assert row["status"] == "closed" and (row["start_frame"], row["end_frame"]) == (30, 35)
    assert row["peak_score"] == 5.0 and row["bbox"] == [8, 8, 24, 24]
    assert row["peak_ts"] - row["start_ts"] == pytest.approx(0.2)
    assert [c[1] for c in row["curve"]][:3] == [0.1] * 3 and max(c[1] for c in row["curve"]) == 5.0
    assert row["curve"][0][0] == pytest.approx(-1.0)  # one second of pre-roll
    assert all(c[2:6] == [8, 8, 24, 24] for c in row["curve"])  # each frame's box
    assert [c[6] for c in row["curve"]] == [c[1] for c in row["curve"]]  # no region map: the frame's score
    snap = tmp_path / "media" / row["snapshot"]
    peak = np.asarray(Image.open(snap).convert("L"))
    assert peak.shape == (32, 48) and abs(int(peak[16, 16]) - int(frames[32][16, 16])) <= 3  # the peak frame
    rgb = np.asarray(Image.open(snap)).astype(int)
    assert rgb[8, 16, 0] > rgb[8, 16, 1] + 40 and abs(rgb[16, 16, 0] - rgb[16, 16, 1]) < 20  # a red box, grey inside
    with av.open(str(tmp_path / "media" / row["clip"])) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert n == 10 + 6 + 10  # pre-roll 1 s + frames 30-35 + post-roll 1 s, at 10 frames/s
    assert row["media_bytes"] == snap.stat().st_size + (tmp_path / "media" / row["clip"]).stat().st_size
    assert not list((tmp_path / "media").rglob("*.part"))
    store.close()


def test_mark_normal_finds_the_events_frames_and_box_on_its_clip(tmp_path):
    """What "mark normal" learns (``service.event_track``): the clip's frames of the event itself (after the
    pre-roll, before the post-roll), each with the object's box of the store's curve."""
    av = pytest.importorskip("av")
    from video_anomaly.serve.service import event_track

    store, _, frames = _record(tmp_path)
    row = store.get_uid("yard/run1/30")
    with av.open(str(tmp_path / "media" / row["clip"])) as c:
        clip = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    track = event_track(row, len(clip))
    assert [k for k, *_ in track] == list(range(10, 16))  # after 1 s of pre-roll: frames 30-35
    assert all(box == [8, 8, 24, 24] for _, *box in track)
    for k, i in zip((10, 15), (30, 35)):  # the clip's frame is the scene's
        assert abs(int(clip[k][16, 16]) - int(frames[i][16, 16])) <= 3
    # An event that outlasts its clip (whose curve may have lost its first rows): no frame is trusted.
    long = [[round(k / 10, 3), 3.0, 8, 8, 24, 24, 3.0] for k in range(len(clip) + 40)]
    assert event_track({**row, "curve": long, "end_ts": row["start_ts"] + 6.6}, len(clip)) == []
    store.close()


# Two objects on a 64x96 frame of 16-pixel regions (4 x 6): A at the top left, frames 30-36, peak 5 at frame 33;
# B at the bottom right, frames 34-70, peak 8 at frame 40, then a long fall (its peak leaves any short buffer).
# The frame's score is its highest region, so A's peak is never the frame's peak of B's time and vice versa.
OBJ_A = dict(zip(range(30, 37), [2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0]))
OBJ_B = dict(zip(range(34, 41), [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])) | {i: 8.0 - (i - 40) * 0.2 for i in range(41, 71)}


def _value(i: int) -> int:
    """Frame ``i``'s grey level: every frame tells which it is."""
    return 20 + (i * 5) % 220


def _two_objects(tmp_path, n: int = 90):
    """The two objects through ``run_source`` into an ``EventRecorder``; ``(store, sent)``."""
    from video_anomaly.detector import FrameScore

    class Scripted:
        clip_length = 1

        def push(self, frame, index):
            m = np.full((4, 6), 0.1, np.float32)
            m[0, 0], m[3, 5] = OBJ_A.get(index, 0.1), OBJ_B.get(index, 0.1)
            s = float(m.max())
            r, c = np.unravel_index(int(m.argmax()), m.shape)
            return FrameScore(index, s, s, s > 1.0, (16 * c, 16 * r, 16 * c + 16, 16 * r + 16), m, frame)

    store, sent, _ = _run_recorder(tmp_path, Scripted(), [np.full((64, 96), _value(i), np.uint8) for i in range(n)])
    return store, sent


def test_every_event_has_a_snapshot_of_its_own_object_at_its_own_peak(tmp_path):
    """Two overlapping objects whose peaks are not the frame's peak of the other's time: each event's snapshot is
    its object's peak frame with its object's box; its curve is its object's score, the frame's beside it."""
    from PIL import Image

    store, _ = _two_objects(tmp_path)
    a, b = store.get_uid("yard/run1/30"), store.get_uid("yard/run1/34")
    assert (a["peak_score"], b["peak_score"]) == (5.0, 8.0)
    assert a["bbox"] == [0, 0, 16, 16] and b["bbox"] == [80, 48, 96, 64]
    assert all(e["status"] == "closed" and e["snapshot"] for e in store.list())
    for row, peak, inside, edge in ((a, 33, (40, 48), (0, 8)), (b, 40, (8, 8), (48, 88))):
        rgb = np.asarray(Image.open(tmp_path / "media" / row["snapshot"]).convert("RGB")).astype(int)
        assert abs(rgb[inside][1] - _value(peak)) <= 3, (row["uid"], rgb[inside], _value(peak))  # its peak frame
        assert rgb[edge][0] > rgb[edge][1] + 40, (row["uid"], rgb[edge])  # its box, in red
        assert row["peak_ts"] - row["start_ts"] == pytest.approx((peak - row["start_frame"]) / 10)
    curve_b = {round(c[0], 1): c for c in b["curve"]}
    at_a_peak = curve_b[round((33 - 34) / 10, 1)]  # B's row at A's peak: B's own region is quiet, the frame is not
    assert at_a_peak[1] == pytest.approx(0.1) and at_a_peak[6] == pytest.approx(5.0)
    assert max(c[1] for c in b["curve"]) == pytest.approx(8.0) and max(c[1] for c in a["curve"]) == pytest.approx(5.0)
    assert all(c[2:6] == [80, 48, 96, 64] for c in b["curve"])  # its box on every frame (for the clip's overlay)
    store.close()


def test_a_second_event_opening_does_not_cut_the_first_ones_clip(tmp_path):
    """B opens while A is open: A's clip still runs from its pre-roll to its post-roll, B has its own."""
    av = pytest.importorskip("av")

    store, sent = _two_objects(tmp_path)
    counts = {}
    for row in store.list():
        with av.open(str(tmp_path / "media" / row["clip"])) as c:
            counts[row["start_frame"]] = sum(1 for _ in c.decode(video=0))
    assert counts == {30: 10 + 7 + 10, 34: 10 + 37 + 10}  # pre-roll 1 s + its frames + post-roll 1 s
    assert [k for k, _ in sent if k in ("event_start", "event")] == ["event_start", "event_start", "event", "event"]
    assert not list((tmp_path / "media").rglob(".*"))
    store.close()


def test_a_snapshot_that_cannot_be_written_is_said(tmp_path, monkeypatch):
    import video_anomaly.serve.media as media

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(media, "write_snapshot", full)
    store, sent = _two_objects(tmp_path)
    said = [f["message"] for k, f in sent if k == "warning"]
    assert sum("cannot write the snapshot" in m and "No space left" in m for m in said) == 2, said
    assert [r["status"] for r in store.list()] == ["closed", "closed"]  # the events are kept, without it
    store.close()


def test_a_failing_clip_costs_the_clip_not_the_event(tmp_path, monkeypatch):
    pytest.importorskip("av")
    from video_anomaly.serve.media import ClipWriter

    real = ClipWriter.write

    def write(self, frame):
        if self.frames >= 12:
            raise OSError(28, "No space left on device")
        real(self, frame)

    monkeypatch.setattr(ClipWriter, "write", write)
    # A second event whose peak is its first frame, before the tracker announces it (two frames below between).
    store, sent, _ = _record(tmp_path, SCRIPT + [0.1] * 10 + [6.0, 0.5, 0.5, 2.0, 2.0] + [0.1] * 20)
    rows = store.list()
    assert [(r["start_frame"], r["status"], r["clip"]) for r in rows] == [(76, "closed", None), (30, "closed", None)]
    assert (
        all(r["snapshot"] for r in rows) and rows[0]["peak_score"] == 6.0 and rows[0]["peak_ts"] == rows[0]["start_ts"]
    )
    assert [k for k, _ in sent if k in ("event_start", "event")] == ["event_start", "event"] * 2
    assert any("the clip failed" in f.get("message", "") for k, f in sent if k == "warning")
    assert not list((tmp_path / "media").rglob("*.part")) and not list((tmp_path / "media").rglob("*.webm"))
    store.close()


def test_a_restart_removes_unfinished_media_and_announces_interrupted_events(tmp_path):
    """What a kill -9 leaves: an open event (announced as started, never ended) and hidden half-written files."""
    from video_anomaly.serve.service import Service
    from video_anomaly.serve.store import OPEN, Store

    with webhook_receiver() as (hook, posts):
        cfg = _load(tmp_path, f'[[webhooks]]\nurl = "{hook}"\n' + CAMERA)
        store = Store(cfg.store.database, cfg.store.media)
        store.migrate()
        i = store.record("yard/r/1", camera="yard", run_id="r", start_frame=1, status=OPEN, start_ts=1e9, threshold=1)
        store.close()
        day = cfg.store.media / "yard" / "2026-12-05"
        day.mkdir(parents=True)
        (day / ".yard_r_1.webm.4242.part").write_bytes(b"half")
        (day / ".yard_r_1.jpg.0a1b.tmp.jpg").write_bytes(b"half")
        (day / "yard_r_0.webm").write_bytes(b"whole")
        svc = Service(cfg)
        assert [p.name for p in cfg.store.media.rglob("*") if p.is_file()] == ["yard_r_0.webm"]
        svc.notifier.start()
        svc.announce_interrupted()
        deadline = time.monotonic() + 5
        while not posts and time.monotonic() < deadline:
            time.sleep(0.05)
        svc.notifier.stop()
        svc.store.close()
    assert [(p["type"], p["id"], p["status"], p["label"]) for p in posts] == [("event", i, "interrupted", "anomaly")]


def test_a_clean_stop_leaks_no_semaphore(tmp_path):
    """The service ends by the signal that stopped it (no exit hooks): the supervisor's queues must be released
    before, or multiprocessing's resource tracker reports their semaphores leaked."""
    import subprocess
    import sys

    cfg = tmp_path / "serve.toml"
    cfg.write_text(CAMERA + 'schedule = ["00:00-00:01"]\n')  # never active at the clock below: no worker
    code = f"""
import os, signal, datetime
from video_anomaly.serve.config import load_config
from video_anomaly.serve.workers import Supervisor
sup = Supervisor(load_config({str(cfg)!r}), clock=lambda: datetime.datetime(2026, 12, 5, 12, 0))
sup.start()
sup.stop()
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.kill(os.getpid(), signal.SIGTERM)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == -15 and "leaked semaphore" not in r.stderr, r.stderr


def test_service_notifies_each_event_from_the_store(tmp_path):
    """The service turns a worker's message into one notification built from the stored row."""
    from video_anomaly.serve.service import Service
    from video_anomaly.serve.store import CLOSED

    with webhook_receiver() as (hook, posts):
        cfg = _load(tmp_path, f'[[webhooks]]\nurl = "{hook}"\n' + CAMERA)
        svc = Service(cfg)
        i = svc.store.record("yard/r/1", camera="yard", run_id="r", start_frame=1, status=CLOSED, start_ts=1e9,
                             end_ts=1e9 + 1, threshold=1.0)  # fmt: skip
        svc.notifier.start()
        svc._on_message({"kind": "event", "camera": "yard", "id": i})
        deadline = time.monotonic() + 5
        while not posts and time.monotonic() < deadline:
            time.sleep(0.05)
        svc.notifier.stop()
        svc.store.close()
    assert [(p["type"], p["id"], p["url"]) for p in posts] == [("event", i, f"http://127.0.0.1:8765/events/{i}")]


# ------------------------------------------------------------------ the supervisor


def test_supervisor_follows_the_schedule_and_restarts_a_dead_worker(tmp_path):
    """Worker processes stand-ins: started in the active hours, stopped (SIGTERM) outside them, restarted with
    back-off when they die, left alone when their file ended."""
    from datetime import datetime

    from video_anomaly.serve.workers import ENDED, Supervisor

    class FakeProc:
        def __init__(self):
            self.exitcode, self.pid, self.terminated = None, 1, False

        def is_alive(self):
            return self.exitcode is None

        def terminate(self):
            self.terminated = True
            self.exitcode = 0

        def join(self, timeout=None):
            pass

    now = [datetime(2026, 12, 5, 8, 0)]
    cfg = _load(tmp_path, CAMERA + 'schedule = ["07:00-19:00"]\n')
    exits, states = [], []
    sup = Supervisor(cfg, lambda m: (exits if m["kind"] == "worker_exit" else states).append(m), clock=lambda: now[0])
    spawned = []

    def spawn(cam):
        spawned.append(FakeProc())
        sup._procs[cam.name] = spawned[-1]
        sup._started_at[cam.name] = time.monotonic()
        sup._set(cam.name, state="starting")

    sup._spawn = spawn
    sup._check()
    assert len(spawned) == 1 and sup.status()["yard"]["state"] == "starting"
    now[0] = datetime(2026, 12, 5, 19, 30)
    sup._check()
    assert spawned[0].terminated
    sup._check()
    assert sup.status()["yard"]["state"] == "inactive" and len(spawned) == 1
    sup._check()
    assert len(spawned) == 1  # not restarted outside the schedule
    now[0] = datetime(2026, 12, 6, 7, 0)
    sup._check()
    assert len(spawned) == 2
    spawned[1].exitcode = -9  # killed
    sup._check()
    st = sup.status()["yard"]
    assert st["state"] == "restarting" and "status -9" in st["error"] and exits[-1]["exitcode"] == -9
    sup._check()
    assert len(spawned) == 2  # back-off: not at once
    sup._retry_at["yard"] = 0.0
    sup._check()
    assert len(spawned) == 3
    sup._set("yard", state=ENDED)  # a file that reached its end
    spawned[2].exitcode = 0
    sup._check()
    sup._check()
    assert len(spawned) == 3 and sup.status()["yard"]["state"] == ENDED
    # The supervisor's own states reach the service's messages (MQTT's retained state), not only the status.
    assert {"inactive", "restarting"} <= {m.get("state") for m in states if m["kind"] == "state"}


def test_serve_check_loads_detectors_and_creates_the_store(tmp_path, capsys):
    from video_anomaly.cli import main

    (tmp_path / "frames").mkdir()
    cfg = tmp_path / "serve.toml"
    cfg.write_text('[cameras.lobby]\nsource = "frames"\ndetector = "ucsd-ped2"\n')
    assert main(["serve", str(cfg), "--check"]) == 0
    assert "1 camera(s)" in capsys.readouterr().out and (tmp_path / "events.sqlite").is_file()
    # Beside a running service (the store made, an event open): the check reads, and changes nothing.
    from video_anomaly.serve.store import OPEN, Store

    store = Store(f"sqlite:///{tmp_path / 'events.sqlite'}", tmp_path / "media")
    store.migrate()
    open_id = store.record("lobby/r/1", camera="lobby", run_id="r", start_frame=1, status=OPEN, start_ts=1.0,
                           threshold=1)  # fmt: skip
    assert main(["serve", str(cfg), "--check"]) == 0
    assert store.get(open_id)["status"] == OPEN
    store.close()
    cfg.write_text('[cameras.lobby]\nsource = "frames"\ndetector = "ucsd-ped2"\nscore = "fused"\nthreshold = 2\n')
    assert main(["serve", str(cfg), "--check"]) == 0
    cfg.write_text('[cameras.lobby]\nsource = "gone"\ndetector = "ucsd-ped2"\n')
    assert main(["serve", str(cfg), "--check"]) == 2
    assert "[cameras.lobby] source: gone: no such file or folder" in capsys.readouterr().err


def test_a_port_in_use_is_one_line_before_anything_starts(tmp_path, capsys):
    import socket

    from video_anomaly.cli import main

    (tmp_path / "frames").mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cfg = tmp_path / "serve.toml"
        cfg.write_text(f'[server]\nport = {port}\n[cameras.lobby]\nsource = "frames"\ndetector = "ucsd-ped2"\n')
        assert main(["serve", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"[server] cannot listen on 127.0.0.1:{port}: address already in use" in err


def test_recorder_records_the_same_events_as_the_run_with_tamper_and_cool_down(tmp_path):
    """The recorder's tracker is fed what the run's is (the tamper verdict) under the same cool-down: it stores the
    tamper event and no anomaly event the run's tracker held back (two events 1 s apart, cool-down 2.5 s)."""
    from video_anomaly.detector import FrameScore
    from video_anomaly.fusion.guard import TamperVerdict
    from video_anomaly.live.events import EventTracker
    from video_anomaly.live.runner import run_source
    from video_anomaly.live.sources import LiveSource
    from video_anomaly.serve.config import CameraConfig
    from video_anomaly.serve.recorder import EventRecorder
    from video_anomaly.serve.store import Store

    scores = [0.1] * 10 + [3.0] * 4 + [0.1] * 10 + [3.0] * 4 + [0.1] * 30 + [0.1] * 8 + [0.1] * 10
    covered = range(58, 66)  # the guard's verdict: covered on these frames

    class Scripted:
        clip_length = 1

        def push(self, frame, index):
            s = scores[index]
            cause = "covered" if index in covered else None
            verdict = TamperVerdict(cause is not None, cause, "the lens is covered" if cause else None, 58, True)
            return FrameScore(index, s, s, s > 1.0, (8, 8, 24, 24), None, frame, tamper=verdict)

    store = Store(f"sqlite:///{tmp_path / 'e.sqlite'}", tmp_path / "media")
    store.migrate()
    cam = CameraConfig("yard", "x", "y", min_length=3, end_after=5, cooldown=25, pre_roll_s=0.5, post_roll_s=0.5)
    tracker = EventTracker(1.0, fps=10, end_after=5, min_length=3, cooldown=25, source="yard")
    rec = EventRecorder(cam, store, "run1", 1.0, 10.0, lambda kind, **f: None, cooldown=25)
    emitted = []
    frames = [np.full((32, 48), 10 * (i % 20), np.uint8) for i in range(len(scores))]
    run_source(Scripted(), LiveSource("x", iter(frames), 10.0, False), tracker=tracker, emit=emitted.append,
               on_frame=rec.on_frame)  # fmt: skip
    rec.finish()
    run_events = sorted((m["start_frame"], m.get("kind")) for m in emitted if m["type"] == "event")
    assert [k for _, k in run_events] == ["anomaly", "tamper"]  # the second anomaly is in the cool-down
    stored = sorted((r["start_frame"], r["kind"]) for r in store.list(limit=10))
    assert stored == run_events
    store.close()


def test_the_live_feed_draws_only_while_someone_reads_it(monkeypatch):
    """A worker's feed draws no frame (no blend, no JPEG) until the service's ``LiveFrames`` is read for that
    camera; a read keeps it drawing for ``WANT_S``."""
    import multiprocessing as mp
    import queue as q

    from video_anomaly.detector import FrameScore
    from video_anomaly.serve import live as live_mod

    drawn = []
    monkeypatch.setattr(live_mod, "render_jpeg", lambda frame, m, thr: drawn.append(frame) or b"\xff\xd8")
    wanted = {"yard": mp.get_context("spawn").Value("d", 0.0, lock=False)}
    qu = q.Queue(maxsize=1)
    qu.cancel_join_thread = lambda: None
    feed = live_mod.LiveFeed(qu, 1.5, fps=1e9, wanted=wanted["yard"])
    frames = live_mod.LiveFrames(wanted)
    fs = FrameScore(0, 0.0, 0.0, False, (0, 0, 8, 8), None, np.zeros((32, 48), np.uint8))
    feed.offer(fs)
    assert drawn == [] and qu.empty()  # nobody watches
    assert frames.latest("yard") == (0, b"")  # a viewer asks
    assert wanted["yard"].value > time.time()
    feed.offer(fs)
    assert len(drawn) == 1 and qu.get_nowait() == b"\xff\xd8"
    wanted["yard"].value = time.time() - 1  # the viewer left WANT_S ago
    feed.offer(fs)
    assert len(drawn) == 1

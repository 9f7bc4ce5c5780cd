"""`video-anomaly serve` end to end, as real processes: two cameras replaying synthetic recordings in a loop, a real
SQLite file, a real MQTT broker (mosquitto), a webhook receiver, the pages in real Chromium; a kill -9 mid-event and
a restart; a stream that drops and returns."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("paho.mqtt")
pytest.importorskip("av")

from serve_fixtures import (  # noqa: E402
    FRAMES,
    TOKEN,
    MqttRecorder,
    fit_detector,
    free_port,
    mosquitto,
    recordings,
    start_service,
    wait_for,
    webhook_receiver,
    write_config,
)

FPS = 20  # the recordings are replayed at 20 frames/s: a pass of 80 frames takes 4 s


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    return fit_detector(tmp), recordings(tmp), tmp


@pytest.fixture(scope="module")
def fitted(pristine, tmp_path_factory):
    """The service fixture's own copy of the detector: "mark normal" teaches the detector it serves (feedback),
    so a test that marks the bicycle normal must not change what the next test's service detects."""
    return _own_copy(pristine, tmp_path_factory.mktemp("det"))


def _own_copy(pristine, where: Path):
    det, recs, tmp = pristine
    return Path(shutil.copytree(det, where / "det")), recs, tmp


def _get(port: int, path: str):
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).json()


def _events(db: Path) -> list[dict]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY id")]
        except sqlite3.OperationalError as exc:  # the service is still creating its schema
            if "no such table" in str(exc):
                return []
            raise


def _children(pid: int, marker: bytes = b"spawn_main") -> list[int]:
    """The camera worker processes of the service ``pid`` (``marker``: ``b"resource_tracker"`` for multiprocessing's
    resource tracker instead)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if marker in cmd:
                out.append(int(child))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _stop(proc, timeout: float = 30) -> int:
    """SIGTERM to the service (its main process, as `systemctl stop` with KillMode=mixed does first)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    return proc.wait(timeout)


def _complete(db: Path, camera: str) -> list[dict]:
    return [e for e in _events(db) if e["camera"] == camera and e["status"] == "closed" and e["clip"]]


@pytest.fixture(scope="module")
def service(fitted):
    """The service with a quiet camera and one with a bicycle, MQTT and a webhook; yields once the first event is
    complete and the quiet camera has watched a whole pass of its recording."""
    det, recs, tmp = fitted
    port = free_port()
    with mosquitto() as mqtt_port, webhook_receiver() as (hook, posts):
        recorder = MqttRecorder(mqtt_port)
        cams = {name: {"source": str(recs[name]), "loop": True, "fps": FPS} for name in ("quiet", "yard")}
        cfg = write_config(tmp / "serve.toml", detector=det, cameras=cams, port=port, mqtt_port=mqtt_port,
                           hooks=(hook,))  # fmt: skip
        log = tmp / "serve.log"
        proc = start_service(cfg, log)
        db = tmp / "events.sqlite"
        try:
            wait_for(lambda: db.exists() and _complete(db, "yard"), 90, "the first complete event", proc, log)
            quiet_frames = lambda: next(c for c in _get(port, "/api/cameras") if c["camera"] == "quiet")["frames"]  # noqa: E731
            wait_for(lambda: (quiet_frames() or 0) > FRAMES + 5, 30, "a whole pass of the quiet camera", proc, log)
            yield {
                "port": port,
                "db": db,
                "posts": posts,
                "mqtt": recorder,
                "proc": proc,
                "log": log,
                "tmp": tmp,
                "mqtt_port": mqtt_port,
            }
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            recorder.close()


SHOTS = Path(os.environ.get("VIDEO_ANOMALY_SCREENSHOTS", "/tmp"))  # where the browser tests leave screenshots


def _chrome():
    """Headless Debian Chromium through chromedriver (skips without them)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_exe = shutil.which("chromedriver")
    if not chromium or not driver_exe:
        pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs them as root)")
    from selenium.webdriver.chrome.service import Service as DriverService

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1100,1000"):  # fmt: skip
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=DriverService(driver_exe))


def test_browser_reviews_an_event(service):
    """Real Chromium: the events page shows the event's snapshot, the event page plays its clip, "mark normal"
    is refused without the token and stored with it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = service["port"]
    driver = _chrome()
    try:
        wait = WebDriverWait(driver, 20)
        event = _complete(service["db"], "yard")[0]
        driver.get(f"http://127.0.0.1:{port}/events?camera=yard")
        item = driver.find_element(By.CSS_SELECTOR, f'li.event[data-id="{event["id"]}"]')
        img = item.find_element(By.CSS_SELECTOR, "img.snapshot")
        wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
        assert driver.execute_script("return arguments[0].naturalWidth", img) == 96
        assert not driver.find_elements(By.CSS_SELECTOR, 'li.event a[href*="quiet"]')

        item.find_element(By.TAG_NAME, "a").click()
        wait.until(lambda d: d.current_url.endswith(f"/events/{event['id']}"))
        video = driver.find_element(By.ID, "clip")
        # It plays: frames decoded and time advancing (autoplay, muted, looped).
        wait.until(lambda d: d.execute_script("return arguments[0].readyState >= 2 && arguments[0].currentTime > 0",
                                              video))  # fmt: skip
        duration = driver.execute_script("return arguments[0].duration", video)
        assert duration > 1.0, duration  # pre-roll 2 s + the event + post-roll at 20 frames/s
        assert driver.execute_script("return arguments[0].error", video) is None
        assert driver.find_element(By.CSS_SELECTOR, "svg#curve polyline").get_attribute("points")

        label = driver.find_element(By.ID, "label")
        driver.find_element(By.ID, "mark-normal").click()
        message = driver.find_element(By.ID, "message")
        wait.until(lambda d: message.text)
        assert "refused (HTTP 401)" in message.text and label.text == "none"
        assert _get(port, f"/api/events/{event['id']}")["label"] is None

        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "mark-normal").click()
        wait.until(lambda d: label.text == "normal")
        assert "saved" in message.text
        assert _get(port, f"/api/events/{event['id']}")["label"] == "normal"
        driver.get(f"http://127.0.0.1:{port}/events?label=normal")
        assert driver.find_elements(By.CSS_SELECTOR, f'li.event[data-id="{event["id"]}"]')
    finally:
        driver.quit()


# The <img>'s current picture, drawn into a canvas, as a short fingerprint (an MJPEG <img> shows the latest part).
_IMG_PRINT = """const img = arguments[0], c = document.createElement("canvas");
c.width = img.naturalWidth; c.height = img.naturalHeight;
const g = c.getContext("2d"); g.drawImage(img, 0, 0);
const d = g.getImageData(0, 0, c.width, c.height).data; let h = 0;
for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) % 1000000007;
return h;"""


def test_browser_live_view_updates_and_the_timeline_has_thumbnails(service):
    """Real Chromium on a camera's page: the live view (MJPEG with the heat map) shows a picture that changes, the
    day's timeline marks the events and shows their snapshots; the event page draws its object's box over the
    clip. Screenshots are left in ``SHOTS`` to be looked at."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = service["port"]
    driver = _chrome()
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(f"http://127.0.0.1:{port}/cameras/yard")
        live = driver.find_element(By.ID, "live")
        wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", live) == 96)
        first = driver.execute_script(_IMG_PRINT, live)
        driver.save_screenshot(str(SHOTS / "serve_live_1.png"))
        wait.until(lambda d: d.execute_script(_IMG_PRINT, live) != first)  # the picture moves on
        driver.save_screenshot(str(SHOTS / "serve_live_2.png"))
        closed = driver.find_elements(By.CSS_SELECTOR, "#timeline a.mark.status-closed")
        thumbs = driver.find_elements(By.CSS_SELECTOR, "#thumbs img.snapshot")
        assert closed and len(thumbs) >= len(closed), (len(closed), len(thumbs))  # (an open event has none yet)
        for img in thumbs:
            wait.until(lambda d, img=img: d.execute_script("return arguments[0].complete", img))
            assert driver.execute_script("return arguments[0].naturalWidth", img) == 96
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "timeline"))
        driver.save_screenshot(str(SHOTS / "serve_timeline.png"))

        event = _complete(service["db"], "yard")[-1]
        driver.get(f"http://127.0.0.1:{port}/events/{event['id']}")
        box = driver.find_element(By.ID, "clip-box")
        wait.until(lambda d: box.is_displayed() and box.size["width"] > 0)  # its object's box over the playing clip
        assert driver.find_element(By.ID, "frame-curve").get_attribute("points")
        assert "peak (object region)" in driver.find_element(By.ID, "summary").text
        driver.save_screenshot(str(SHOTS / "serve_event.png"))
    finally:
        driver.quit()


def test_end_to_end_event_stored_once_published_and_posted(service):
    """The bicycle's event: one row (per pass of the recording), snapshot and clip on disk, on MQTT and posted to
    the webhook exactly once; the quiet camera has none; SIGTERM closes everything and stops the workers."""
    db, posts, mqtt, port = service["db"], service["posts"], service["mqtt"], service["port"]
    done = _complete(db, "yard")
    ids = {e["id"] for e in done}

    def notified():
        hooked = [p["id"] for p in posts if p["type"] == "event"]
        published = [json.loads(m[1])["id"] for m in mqtt.messages
                     if m[0] == "video-anomaly/yard/events" and json.loads(m[1])["type"] == "event"]  # fmt: skip
        return ids <= set(hooked) and ids <= set(published) and (hooked, published)

    hooked, published = wait_for(notified, 20, "the notifications of the complete events")
    for i in ids:
        assert hooked.count(i) == 1 and published.count(i) == 1, (i, hooked, published)

    first = done[0]
    # The bicycle is on screen at frames 31-48 of each 80-frame pass; the first pass's event is stored once.
    assert 28 <= first["start_frame"] <= 48 and first["end_frame"] <= 60, first
    assert sum(e["start_frame"] == first["start_frame"] and e["run_id"] == first["run_id"] for e in _events(db)) == 1
    yard = [e for e in _events(db) if e["camera"] == "yard" and e["status"] == "closed"]
    for a, b in zip(yard, yard[1:]):
        assert a["end_ts"] <= b["start_ts"], (a, b)  # no event twice: closed events never overlap in time
        assert b["start_frame"] // (FRAMES + 1) > a["start_frame"] // (FRAMES + 1)  # at most one per pass
    for e in yard:  # each at the bicycle's frames of its pass (passes are FRAMES + 1 frame numbers apart)
        assert 28 <= e["start_frame"] % (FRAMES + 1) <= 48, e
    media = service["tmp"] / "media"
    assert (media / first["snapshot"]).stat().st_size > 500 and (media / first["clip"]).stat().st_size > 1000
    assert first["media_bytes"] == (media / first["snapshot"]).stat().st_size + (media / first["clip"]).stat().st_size
    assert first["peak_score"] > first["threshold"] and len(json.loads(first["bbox"])) == 4
    curve = json.loads(first["curve"])
    # Events are per object: the peak is the object's highest region, at least the frame value (a top-k mean).
    assert curve[0][0] < 0 < curve[-1][0] and max(c[1] for c in curve) <= first["peak_score"] + 1e-3

    hook = next(p for p in posts if p["type"] == "event" and p["id"] == first["id"])
    assert hook["camera"] == "yard" and hook["clip_url"] == f"http://127.0.0.1:{port}/media/{first['clip']}"
    # As NVRs send them: the object's class (the stored one, which the default cues' object detector names; an
    # event without an object is an "anomaly"), its peak score and its box.
    label = first["object_label"] or "anomaly"
    assert (hook["label"], hook["score"], hook["box"]) == (label, first["peak_score"], json.loads(first["bbox"]))
    starts = [p for p in posts if p["type"] == "event_start" and p["id"] == first["id"]]
    assert len(starts) == 1 and starts[0]["status"] == "open"
    topics = {m[0]: (m[1], m[2]) for m in mqtt.messages}
    assert "homeassistant/binary_sensor/video_anomaly_yard/anomaly/config" in topics
    assert json.loads(topics["video-anomaly/quiet/state"][0])["state"] == "live"
    assert not [e for e in _events(db) if e["camera"] == "quiet"]
    assert not [m for m in mqtt.messages if m[0] == "video-anomaly/quiet/events"]
    late = MqttRecorder(service["mqtt_port"])  # a subscriber that comes later gets the retained state and discovery
    try:
        want = {"video-anomaly/yard/state", "video-anomaly/status"}
        retained = wait_for(lambda: (r := {m[0]: m[1] for m in late.messages if m[2]}) and want <= set(r) and r, 10,
                            "the retained state")  # fmt: skip
    finally:
        late.close()
    assert (
        json.loads(retained["video-anomaly/yard/state"])["camera"] == "yard"
        and retained["video-anomaly/status"] == "online"
    )
    assert "homeassistant/sensor/video_anomaly_quiet/score/config" in retained

    proc = service["proc"]
    trackers = _children(proc.pid, b"resource_tracker")
    assert trackers, "the queues started multiprocessing's resource tracker"
    rc = _stop(proc)
    assert rc in (0, -signal.SIGTERM), service["log"].read_text()
    # The resource tracker outlives the service and says at its exit what was never released.
    wait_for(lambda: not any(_alive(t) for t in trackers), 10, "the resource tracker to exit")
    assert "leaked" not in service["log"].read_text(), service["log"].read_text()
    assert not [e for e in _events(db) if e["status"] == "open"], "SIGTERM closes the open events"
    assert "camera run ended" in service["log"].read_text()
    assert not [e for e in _events(db) if e["camera"] == "quiet"]


def test_kill_9_mid_event_then_restart_loses_and_duplicates_nothing(pristine, tmp_path):
    """kill -9 mid-event, then a restart: nothing lost or doubled, the cut-off event marked interrupted and its end
    announced on MQTT, the half-written clip removed (and never served), the page saying so plainly."""
    import httpx

    det, recs, _ = _own_copy(pristine, tmp_path)
    port = free_port()
    with mosquitto() as mqtt_port:
        recorder = MqttRecorder(mqtt_port)
        try:
            _kill_9_and_restart(det, recs, tmp_path, port, mqtt_port, recorder, httpx)
        finally:
            recorder.close()


def _kill_9_and_restart(det, recs, tmp_path, port, mqtt_port, mqtt, httpx):
    cfg = write_config(tmp_path / "serve.toml", detector=det, port=port, mqtt_port=mqtt_port,
                       cameras={"yard": {"source": str(recs["yard"]), "loop": True, "fps": FPS}})  # fmt: skip
    db, log, media = tmp_path / "events.sqlite", tmp_path / "serve.log", tmp_path / "media"
    proc = start_service(cfg, log)
    try:
        wait_for(lambda: db.exists() and _complete(db, "yard"), 90, "a complete event", proc, log)
        before = _complete(db, "yard")
        # The next pass: kill -9 while its event is open.
        wait_for(lambda: [e for e in _events(db) if e["status"] == "open"], 30, "the next event to open", proc, log)
        workers = _children(proc.pid)
        assert workers, "one worker process per camera"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        snapshot = _events(db)
        open_uid = next(e["uid"] for e in snapshot if e["status"] == "open")
        # The orphaned workers leave within 0.2 s, writing nothing (the service is gone: nobody to finish for).
        wait_for(lambda: not any(Path(f"/proc/{w}").exists() and _alive(w) for w in workers), 10, "workers to exit")
        assert _events(db) == snapshot
        half = [p for p in media.rglob(".*") if p.is_file()]
        assert half, "the open event's clip was being written under a hidden name"

        proc = start_service(cfg, log)
        wait_for(lambda: len(_complete(db, "yard")) > len(before) + 0, 60, "an event after the restart", proc, log)
        assert not any(p.exists() for p in half) and "unfinished media file(s)" in log.read_text()
        for p in half:
            assert httpx.get(f"http://127.0.0.1:{port}/media/{p.relative_to(media)}", timeout=5).status_code == 404
        open_id = next(e["id"] for e in snapshot if e["status"] == "open")

        def announced():
            return [m for t, m, _ in mqtt.messages if t == "video-anomaly/yard/events"
                    and json.loads(m)["type"] == "event" and json.loads(m)["id"] == open_id]  # fmt: skip

        (msg,) = wait_for(announced, 20, "the interrupted event's end on MQTT", proc, log)
        assert json.loads(msg)["status"] == "interrupted"
        page = httpx.get(f"http://127.0.0.1:{port}/events/{open_id}", timeout=5).text
        assert "(open)" not in page and "interrupted: the service stopped" in page
        after = _events(db)
        by_uid = {e["uid"]: e for e in after}
        assert len(by_uid) == len(after)  # uid is unique: nothing recorded twice
        for e in before:  # every closed event survives, unchanged
            assert by_uid[e["uid"]] == e
        assert by_uid[open_uid]["status"] == "interrupted"
        assert "marked interrupted" in log.read_text()
        closed = [e for e in after if e["status"] == "closed"]
        for a, b in zip(closed, closed[1:]):
            assert a["end_ts"] <= b["start_ts"]

        # A worker that dies mid-event (not the service): its event is cut off, the worker restarted.
        wait_for(lambda: [e for e in _events(db) if e["status"] == "open"], 30, "another event to open", proc, log)
        (worker,) = _children(proc.pid)
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: "worker exited with status -9; 1 open event(s) marked interrupted" in log.read_text(), 20,
                 "the service to notice", proc, log)  # fmt: skip
        assert not [e for e in _events(db) if e["status"] == "open"]
        wait_for(lambda: _children(proc.pid) not in ([], [worker]), 20, "a new worker", proc, log)
        wait_for(lambda: (c := _get(port, "/api/cameras")[0])["state"] == "live" and c["frames"], 30, "live again",
                 proc, log)  # fmt: skip
    finally:
        if proc.poll() is None:
            _stop(proc)
    assert not [e for e in _events(db) if e["status"] == "open"]


def test_lost_stream_shows_lost_then_live(pristine, tmp_path):
    """An HTTP camera whose sender stops: the camera shows lost (its worker retries with back-off), then live once
    the stream is back."""
    import http.server
    import threading

    import httpx

    from live_fixtures import write_ts
    from serve_fixtures import render

    det, _, _ = _own_copy(pristine, tmp_path)
    data = write_ts(render(None, 0)[0], tmp_path / "cam.ts").read_bytes()
    up = threading.Event()
    up.set()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if not up.is_set():
                self.send_error(503)
                return
            self.send_response(200)
            self.send_header("Content-Type", "video/MP2T")
            self.send_header("Transfer-Encoding", "chunked")  # a live stream: no length, no end
            self.end_headers()
            for i in range(0, len(data), 4096):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data[i : i + 4096]), data[i : i + 4096]))
                time.sleep(0.02)
            self.wfile.flush()
            self.close_connection = True  # the sender goes away: no final chunk

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = free_port()
    url = f"http://viewer:hunter2@127.0.0.1:{httpd.server_address[1]}/cam.ts"  # a password never shown
    cfg = write_config(tmp_path / "serve.toml", detector=det, port=port,
                       cameras={"gate": {"source": url, "timeout_s": 3, "retry_max_s": 2}})  # fmt: skip
    log = tmp_path / "serve.log"
    proc = start_service(cfg, log)

    def state():
        try:
            return _get(port, "/api/cameras")[0]
        except Exception:  # noqa: BLE001 - not listening yet
            return None

    try:
        wait_for(lambda: (state() or {}).get("state") == "live" and state()["frames"], 60, "live", proc, log)
        up.clear()  # the sender stops after the stream it is sending
        lost = wait_for(lambda: (s := state()) and s["state"] == "lost" and s, 60, "lost", proc, log)
        assert lost["error"] and "hunter2" not in json.dumps(lost)
        # Reopening fails while the sender is away (HTTP 503): that error names the source, without its password.
        failed = wait_for(
            lambda: "cannot open" in ((s := state())["error"] or "") and s, 30, "the reopening", proc, log
        )
        assert "http://***@127.0.0.1" in failed["error"] and "hunter2" not in failed["error"], failed
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        assert "hunter2" not in page + json.dumps(state()) and "viewer:" not in page and "***@127.0.0.1" in page
        up.set()
        wait_for(lambda: (s := state()) and s["state"] == "live" and s["frames"], 30, "live again", proc, log)
    finally:
        _stop(proc)
        httpd.shutdown()
        httpd.server_close()

"""The camera service under hostile requests and faulty cameras (issue 30, items 10-14): the token before the body,
bounded bodies, names matched whole, secrets in camera URLs never shown, huge integers refused, a camera that
never opens said in the log."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from serve_fixtures import TOKEN  # noqa: E402
from serve_fixtures import load_text as _load  # noqa: E402

SECRET = "s3cr3t-Tok3n"
CAMERAS = f"""
[cameras.yard]
source = "rtsp://admin:hunter2@cam.local/stream?channel=1&token={SECRET}"
detector = "ucsd-ped2"

[cameras.gate]
source = "http://cam2.local/live.ts?user=viewer&pwd={SECRET}#sig={SECRET}"
detector = "ucsd-ped2"
"""


def _app(tmp_path, server: str = f'[server]\ntoken = "{TOKEN}"\n', status=dict):
    from video_anomaly.serve.app import create_app
    from video_anomaly.serve.store import CLOSED, Store

    cfg = _load(tmp_path, server + CAMERAS)
    store = Store(cfg.store.database, cfg.store.media)
    store.migrate()
    store.record("yard/r/1", camera="yard", run_id="r", start_frame=1, status=CLOSED, start_ts=1e9, end_ts=1e9 + 2,
                 threshold=1.5, peak_score=3.0)  # fmt: skip
    return cfg, store, create_app(cfg, store, status=status)


def _post(app, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, int]:
    """POST ``chunks`` to ``app`` straight through ASGI. ``(HTTP status, chunks the app pulled)``."""
    pulled: list[int] = []
    sent: list[dict] = []

    async def receive():
        if len(pulled) < len(chunks):
            pulled.append(1)
            return {"type": "http.request", "body": chunks[len(pulled) - 1], "more_body": len(pulled) < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(msg):
        sent.append(msg)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8765)}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), len(pulled)


# ------------------------------------------------------------------ 10. the token before the body; bounded bodies


def test_item10_token_checked_before_body(tmp_path):
    _, store, app = _app(tmp_path)
    chunks = [b"x" * 1_000_000] * 20  # 20 MB said and sent, no token
    length = str(sum(map(len, chunks)))
    status, pulled = _post(app, "/api/events/1/label", {"Content-Length": length}, chunks)
    assert (status, pulled) == (401, 0)
    status, pulled = _post(app, "/api/events/1/label", {"Authorization": "Bearer wrong-token-x"}, chunks)
    assert (status, pulled) == (401, 0)
    assert store.get(1)["label"] is None
    store.close()


def test_item10_body_over_the_limit_is_413(tmp_path):
    server = f'[server]\ntoken = "{TOKEN}"\nmax_body_kb = 1\n'
    cfg, store, app = _app(tmp_path, server)
    assert cfg.server.max_body_kb == 1.0 and _load(tmp_path, CAMERAS).server.max_body_kb > 1
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    small = json.dumps({"label": "normal"}).encode()
    big = json.dumps({"label": "normal", "pad": "x" * 4000}).encode()
    # Said by its Content-Length: refused unread; sent in pieces without one: refused once over the limit.
    assert _post(app, "/api/events/1/label", {**auth, "Content-Length": str(len(big))}, [big]) == (413, 0)
    pieces = [big[i : i + 512] for i in range(0, len(big), 512)]
    status, pulled = _post(app, "/api/events/1/label", auth, pieces)
    assert status == 413 and pulled < len(pieces)
    assert store.get(1)["label"] is None
    assert _post(app, "/api/events/1/label", {**auth, "Content-Length": str(len(small))}, [small])[0] == 200
    assert store.get(1)["label"] == "normal"
    store.close()


# ------------------------------------------------------------------ 11. names matched whole


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('[cameras."cam1\\n"]\nsource = "x"\ndetector = "y"\n', "a camera name is"),
        ('[cameras.cam1]\nsource = "x"\ndetector = "y"\nschedule = ["07:00-19:00\\n"]\n', "schedule"),
    ],
)
def test_item11_a_trailing_newline_fails_the_name_check(tmp_path, table, expected):
    from video_anomaly.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        _load(tmp_path, table)
    assert expected in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ 12. secrets in camera URLs


def test_item12_query_secrets_are_never_shown(tmp_path):
    import queue

    from fastapi.testclient import TestClient

    from video_anomaly.serve.workers import _Reporter

    status = {"yard": {"state": "lost", "error": "cannot open stream"}}
    cfg, store, app = _app(tmp_path, status=lambda: status)
    with TestClient(app) as c:
        shown = c.get("/").text + c.get("/api/cameras").text
    assert SECRET not in shown and "hunter2" not in shown
    assert "token=***" in shown and "pwd=***" in shown and "channel=***" in shown  # the names still say what is set
    # Errors and warnings (to the log, the pages and MQTT) name the source as given or as FFmpeg quotes it.
    q: queue.Queue = queue.Queue()
    for cam in cfg.cameras:
        rep = _Reporter(cam, q)
        rep.send("state", state="lost", error=f"{cam.source}: cannot open stream: connection refused")
        rep.warn(f"warning: Could not open '{cam.source}'.")
        rep.send("summary", frames=0, error=f"{cam.source.split('#')[0]}: stopped")
    said = json.dumps([q.get_nowait() for _ in range(q.qsize())])
    assert SECRET not in said and "hunter2" not in said and "cam.local/stream?channel=***&token=***" in said
    store.close()


# ------------------------------------------------------------------ 13. integers out of the database's range


def test_item13_huge_ids_and_offsets_are_404_and_422(tmp_path):
    from fastapi.testclient import TestClient

    _, store, app = _app(tmp_path)
    huge = 2**63
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as c:  # raises a server error (the OverflowError) instead of answering 500
        assert c.get(f"/api/events/{huge}").status_code == 404
        assert c.get(f"/events/{huge}").status_code == 404
        assert c.post(f"/api/events/{huge}/label", json={"label": "normal"}, headers=auth).status_code == 404
        assert c.get("/api/events", params={"offset": huge}).status_code == 422
        assert c.get("/events", params={"offset": huge}).status_code == 422
        assert c.get("/api/events", params={"offset": huge - 1}).json() == []
        assert c.get("/api/events/1").status_code == 200
    store.close()


# ------------------------------------------------------------------ 14. a camera that never opens


class _Clock:
    """A fake ``time`` for a worker: ``sleep`` moves the clock on; after ``tries`` sleeps it stops the worker as
    SIGTERM would."""

    def __init__(self, tries: int):
        import time

        self.now, self.tries, self.slept = 1000.0, tries, []
        self.time, self.process_time = time.time, time.process_time

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s
        if len(self.slept) >= self.tries:
            raise KeyboardInterrupt


@pytest.mark.parametrize("how", ["refused", "silent"])
def test_item14_a_camera_that_never_opens_is_logged_with_backoff(tmp_path, monkeypatch, how):
    import os
    import queue

    import video_anomaly
    import video_anomaly.device
    import video_anomaly.serve.outage as outage
    import video_anomaly.serve.workers as workers
    from video_anomaly.errors import DataError
    from video_anomaly.live.runner import LOST, RunStats

    cam = _load(tmp_path, CAMERAS).camera("yard")
    clock = _Clock(tries=300)
    for mod in (workers, outage):
        monkeypatch.setattr(mod, "time", clock)
    monkeypatch.setattr(workers, "_exit_when_orphaned", lambda pid: None)
    monkeypatch.setattr(video_anomaly.device, "apply_thread_policy", lambda n=None: None)
    monkeypatch.setattr(video_anomaly, "Detector", type("D", (), {"load": staticmethod(lambda path: object())}))

    def refuse(cam, warn):
        clock.now += 0.01
        raise DataError(None, f"{cam.source}: cannot open stream: connection refused")

    if how == "refused":
        monkeypatch.setattr(workers, "open_camera_source", refuse)
    else:  # it opens, and no frame comes before the timeout
        monkeypatch.setattr(workers, "open_camera_source", lambda cam, warn: object())
        silent = RunStats(end=LOST, error=f"timed out: no data for {cam.timeout_s:g} s")
        monkeypatch.setattr(workers, "_watch_once", lambda *a: (clock.sleep(cam.timeout_s) or silent, 0))
    q: queue.Queue = queue.Queue()
    assert workers.camera_main(cam, f"sqlite:///{tmp_path / 'ev.sqlite'}", str(tmp_path), q, os.getppid()) == 0
    msgs = [q.get_nowait() for _ in range(q.qsize())]
    said = [(m["time"], m["message"]) for m in msgs if m["kind"] == "warning"]
    lines = [m for _, m in said]
    reason = "connection refused" if how == "refused" else "opened, but sent no frame: timed out"
    assert lines and all(line.startswith("camera yard: warning: ") and reason in line for line in lines), lines
    assert all(SECRET not in line for line in lines) and "rtsp://***@cam.local/stream" in lines[0]
    # Said at the first failed try, then less and less often: far fewer lines than tries, never more than one a
    # retry, and the later lines say how long it has lasted.
    assert len(lines) < len(clock.slept) / 10 and "tries in" in lines[-1]
    lasted = [float(line.split(" tries in ")[1].split(" s)")[0]) for line in lines[1:]]
    gaps = [b - a for a, b in zip(lasted, lasted[1:])]
    assert gaps[0] < gaps[-1] <= outage.Outage(print).cap + cam.retry_max_s

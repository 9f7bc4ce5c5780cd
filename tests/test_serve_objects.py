"""`serve` with a detector that has the objects cue: an event's object (class and track id) reaches the store, the
pages, the API and the MQTT/webhook payload (``label``, ``score``, ``box``, as NVRs send them).

The camera's worker loop (``workers._watch_once``) runs a person walking on the grass of the synthetic scene through
a detector with the objects cue over ``live_fixtures.FakeObjectDetector`` (no ONNX model), threshold 0.
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from serve_fixtures import TOKEN  # noqa: E402
from serve_fixtures import load_text as _load  # noqa: E402


def test_an_objects_event_names_its_object_in_the_store_page_and_notification(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from live_fixtures import grass_videos, objects_detector
    from video_anomaly.detector import Detector
    from video_anomaly.live.sources import LiveSource
    from video_anomaly.serve.app import create_app
    from video_anomaly.serve.config import CameraConfig
    from video_anomaly.serve.store import Store, notification_json
    from video_anomaly.serve.workers import _watch_once

    det = Detector.load(objects_detector(tmp_path, monkeypatch))
    cfg = _load(tmp_path, f'[server]\ntoken = "{TOKEN}"\n[cameras.yard]\nsource = "x"\ndetector = "y"\n')
    store = Store(cfg.store.database, cfg.store.media)
    store.migrate()
    sent = []

    class Report:
        def send(self, kind, **fields):
            sent.append((kind, fields))

        def warn(self, msg):
            sent.append(("warn", {"message": msg}))

    cam = CameraConfig("yard", "x", "y", threshold=0.0, pre_roll_s=0.5, post_roll_s=0.5)
    frames = list(grass_videos(1)[0][0][:60])
    _watch_once(det, cam, store, LiveSource("x", iter(frames), 10.0, False), Report())
    rows = [r for r in store.list() if r["status"] == "closed"]
    assert rows, "no event: the test would show nothing"
    named = [r for r in rows if r["object_label"]]
    assert named and all(r["object_label"] == "person" and r["track_id"] is not None for r in named)
    row = named[0]
    # What MQTT and webhooks send (``Service`` builds it from the stored row): the NVR fields.
    note = notification_json(row, "http://nvr.local")
    assert (note["label"], note["score"], note["box"]) == ("person", row["peak_score"], row["bbox"])
    assert note["object_label"] == "person" and note["track_id"] == row["track_id"]
    with TestClient(create_app(cfg, store, status=dict)) as c:
        page = c.get(f"/events/{row['id']}").text
        assert "· person" in page and f"track {row['track_id']}" in page
        listed = c.get("/api/events", params={"object": "person"}).json()
        assert row["id"] in [e["id"] for e in listed]
    store.close()

"""`watch` reads a network stream: a synthetic video served as MPEG-TS over HTTP on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import numpy as np
import pytest

from live_fixtures import calibrated_checkpoint, grass_videos, install_median, write_ts

pytest.importorskip("av")


@pytest.fixture()
def server(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))

    class Quiet(handler.func):  # type: ignore[name-defined]
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_watch_reads_http_stream_and_raises_planted_event(tmp_path_factory, server, monkeypatch, capsys):
    from video_anomaly.cli import main

    ckpt, _ = calibrated_checkpoint(tmp_path_factory.mktemp("stream"), monkeypatch)
    install_median(monkeypatch)
    folder, base = server
    frames, labels = grass_videos(1)[0]
    write_ts(frames, folder / "cam.ts")
    out = folder / "events.jsonl"
    # A queue longer than the clip keeps this short stream whole (the server sends faster than real time).
    rc = main(["watch", str(ckpt), f"{base}/cam.ts", "--out", str(out), "--queue", "512", "--device", "cpu"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["type"] == "summary" and summary["frames"] == len(frames) and summary["dropped"] == 0
    events = [m for m in map(json.loads, out.read_text().splitlines()) if m["type"] == "event"]
    first, last = np.flatnonzero(labels)[[0, -1]]
    assert any(e["start_frame"] <= last and e["end_frame"] >= first for e in events), events
    assert all(e["source"].startswith("http://127.0.0.1:") for e in events)


def test_watch_reports_unreachable_stream(monkeypatch, tmp_path_factory, capsys):
    from video_anomaly.cli import main

    ckpt, _ = calibrated_checkpoint(tmp_path_factory.mktemp("stream2"), monkeypatch)
    install_median(monkeypatch)
    assert main(["watch", str(ckpt), "http://127.0.0.1:9/none.ts", "--timeout", "2", "--device", "cpu"]) == 2
    assert "cannot open stream" in capsys.readouterr().err


def test_watch_hides_a_stream_urls_secrets(tmp_path_factory, server, monkeypatch, capsys):
    """A stream URL's password and query values (``?token=``) never reach `watch`'s event lines, its summary or
    its warnings (the one ``live.redact`` that serve uses too)."""
    from video_anomaly.cli import main

    ckpt, _ = calibrated_checkpoint(tmp_path_factory.mktemp("stream3"), monkeypatch)
    install_median(monkeypatch)
    folder, base = server
    frames, _ = grass_videos(1)[0]
    write_ts(frames, folder / "cam.ts")
    url = base.replace("http://", "http://user:pw-s3cret@") + "/cam.ts?channel=1&token=tok-s3cret"
    out = folder / "events.jsonl"
    assert main(["watch", str(ckpt), url, "--out", str(out), "--queue", "512", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events and all(e["source"].endswith("/cam.ts?channel=***&token=***") for e in events), events
    assert "s3cret" not in out.read_text() + err
    # Its warnings: a stream that does not open is retried (--reconnect), and said so, by its shown name.
    down = "http://127.0.0.1:9/none.ts?token=tok-s3cret"
    assert main(["watch", str(ckpt), down, "--timeout", "1", "--reconnect", "1", "--device", "cpu"]) != 0
    err = capsys.readouterr().err
    assert "retrying" in err and "none.ts?token=***" in err and "s3cret" not in err, err

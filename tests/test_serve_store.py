"""The event store against SQLite and PostgreSQL: schema versions, idempotent recording, crash recovery, retention.

PostgreSQL: a throw-away cluster (Debian's `postgresql`: initdb/pg_ctl into a temporary folder, on a free port of
127.0.0.1, as the `postgres` user when the tests run as root); the PostgreSQL cases skip with the reason when it
cannot start. `VIDEO_ANOMALY_TEST_PG=postgresql+psycopg://...` runs them against a server of your own instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

sa = pytest.importorskip("sqlalchemy")

from serve_fixtures import free_port  # noqa: E402


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory):
    url = os.environ.get("VIDEO_ANOMALY_TEST_PG")
    if url:
        yield url
        return
    pytest.importorskip("psycopg")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql as root)")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as its own user, in a folder it can reach
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        as_user = ["runuser", "-u", "postgres", "--"]
        root = Path(tempfile.mkdtemp(prefix="video-anomaly-pg-"))
        shutil.chown(root, "postgres")
    else:
        root = tmp_path_factory.mktemp("pg")
    data, port = root / "data", free_port()
    user = "postgres" if as_user else os.environ.get("USER", "postgres")

    def run(cmd):
        return subprocess.run(as_user + cmd, capture_output=True, text=True, timeout=60)

    r = run([initdb, "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"])
    if r.returncode:
        pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
    opts = f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off -c full_page_writes=off"
    r = run([pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "30", "start"])
    if r.returncode:
        pytest.skip(f"PostgreSQL did not start: {r.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres"
    finally:
        run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"])
        if as_user:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    from video_anomaly.serve.store import Store, metadata

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'events.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
        eng = sa.create_engine(url)  # a clean database per test
        with eng.begin() as conn:
            metadata.drop_all(conn)
        eng.dispose()
    s = Store(url, tmp_path / "media")
    yield s
    s.close()


def _closed(store, uid: str, start: float, n_bytes: int = 0, **kw) -> int:
    from video_anomaly.serve.store import CLOSED

    i = store.record(uid, camera=kw.pop("camera", "cam"), run_id="r", start_frame=int(start), status=CLOSED,
                     start_ts=start, end_ts=start + 1, threshold=1.0, peak_score=2.0, bbox=[1, 2, 3, 4],
                     curve=[[0.0, 2.0]], **kw)  # fmt: skip
    if n_bytes:
        store.add_media_bytes(uid, n_bytes)
    return i


def test_migrate_creates_the_schema_once_and_refuses_a_newer_one(store):
    from video_anomaly.errors import ConfigError
    from video_anomaly.serve.store import SCHEMA_VERSION, events, schema_version

    assert store.migrate() == 0
    assert store.migrate() == SCHEMA_VERSION  # already there: nothing to do
    with store.engine.connect() as conn:
        cols = {c["name"] for c in sa.inspect(conn).get_columns("events")}
    assert cols == {c.name for c in events.columns}  # the migrations give the schema the code uses
    with store.engine.begin() as conn:
        conn.execute(schema_version.update().values(version=SCHEMA_VERSION + 1))
    with pytest.raises(ConfigError, match="newer than this program"):
        store.migrate()


def test_a_later_step_runs_once_on_an_existing_database(store, monkeypatch):
    """How a schema change ships: a next step that adds a column migrates an existing database once, rows kept."""
    import video_anomaly.serve.store as st

    store.migrate()
    _closed(store, "cam/r/1", 10.0)

    def step(md, conn):
        md.tables["events"].append_column(sa.Column("note", sa.String(50)))
        if conn is not None:
            conn.execute(sa.text("ALTER TABLE events ADD COLUMN note VARCHAR(50)"))

    now = st.SCHEMA_VERSION
    monkeypatch.setitem(st.MIGRATIONS, now + 1, step)
    monkeypatch.setattr(st, "SCHEMA_VERSION", now + 1)
    assert store.migrate() == now and store.migrate() == now + 1
    with store.engine.connect() as conn:
        assert "note" in {c["name"] for c in sa.inspect(conn).get_columns("events")}
        assert conn.execute(sa.text("SELECT uid, note FROM events")).all() == [("cam/r/1", None)]


def test_a_version_1_database_gains_the_object_columns(store):
    """A store made before events could carry an object's label, track and kind: migrated, its rows kept."""
    import video_anomaly.serve.store as st

    with store.engine.begin() as conn:
        st.schema_version.create(conn)
        v1 = st._schema(1, conn)
        conn.execute(st.schema_version.insert().values(version=1))
        conn.execute(v1.tables["events"].insert().values(uid="cam/r/1", camera="cam", run_id="r", start_frame=1,
                     status="closed", start_ts=1.0, threshold=1.0, media_bytes=0, updated_ts=1.0))  # fmt: skip
    assert store.migrate() == 1
    (row,) = store.list()
    assert row["uid"] == "cam/r/1" and (row["object_label"], row["track_id"], row["kind"]) == (None, None, None)
    _closed(store, "cam/r/2", 2.0, object_label="person", track_id="12", kind="loitering")
    assert [r["uid"] for r in store.list(object_label="person")] == ["cam/r/2"] and store.object_labels() == ["person"]


def test_recording_is_idempotent_and_a_closed_event_never_reopens(store):
    from video_anomaly.serve.store import CLOSED, INTERRUPTED, OPEN

    store.migrate()
    a = store.record("cam/r/10", camera="cam", run_id="r", start_frame=10, status=OPEN, start_ts=100.0, threshold=1)
    assert store.record("cam/r/10", camera="cam", run_id="r", start_frame=10, status=OPEN, start_ts=100.0,
                        threshold=1) == a  # fmt: skip
    assert _closed(store, "cam/r/10", 100.0) == a
    store.record("cam/r/10", status=OPEN, start_ts=100.0)  # a late duplicate of the start
    row = store.get(a)
    assert row["status"] == CLOSED and row["bbox"] == [1, 2, 3, 4] and row["curve"] == [[0.0, 2.0]]
    assert len(store.list()) == 1
    b = store.record("cam/r/50", camera="cam", run_id="r", start_frame=50, status=OPEN, start_ts=105.0, threshold=1)
    assert store.interrupt_open() == 1 and store.get(b)["status"] == INTERRUPTED and store.get(a)["status"] == CLOSED
    assert store.interrupt_open() == 0


def test_list_filters_and_labels(store):
    store.migrate()
    ids = [_closed(store, f"{cam}/r/{t}", t, camera=cam) for cam, t in (("a", 10.0), ("b", 20.0), ("a", 30.0))]
    assert [e["id"] for e in store.list()] == ids[::-1]
    assert [e["id"] for e in store.list(camera="a")] == [ids[2], ids[0]]
    assert [e["id"] for e in store.list(since=15, until=30)] == [ids[1]]
    assert store.counts() == {"a": 2, "b": 1}
    assert store.mark(ids[0], "normal")["label"] == "normal"
    assert [e["id"] for e in store.list(label="normal")] == [ids[0]]
    assert store.mark(999, "normal") is None
    with pytest.raises(ValueError):
        store.mark(ids[0], "maybe")


def test_retention_by_age_then_size_oldest_first_never_open(store, tmp_path):
    from video_anomaly.serve.store import OPEN

    store.migrate()
    now = time.time()
    day = 86400.0
    ids = []
    for k, age in enumerate((40 * day, 10 * day, 5 * day, 1 * day)):
        rel = f"cam/{k}.jpg"
        (store.media / "cam").mkdir(parents=True, exist_ok=True)
        (store.media / rel).write_bytes(b"x" * 1000)
        ids.append(_closed(store, f"cam/r/{k}", now - age, 1000, snapshot=rel))
    opened = store.record("cam/r/open", camera="cam", run_id="r", start_frame=0, status=OPEN, start_ts=now - 50 * day,
                          threshold=1.0)  # fmt: skip
    store.add_media_bytes("cam/r/open", 5000)
    # Age first: the 40-day-old one goes; then the oldest until the media fit in 7000 bytes; the open one stays.
    removed = store.apply_retention(max_age_s=30 * day, max_bytes=7000, now=now)
    assert removed == ids[:2]
    assert not (store.media / "cam/0.jpg").exists() and not (store.media / "cam/1.jpg").exists()
    assert (store.media / "cam/2.jpg").exists() and store.get(opened) is not None
    assert store.media_bytes() == 7000
    assert store.apply_retention(max_age_s=None, max_bytes=None, now=now) == []


def test_bad_database_url_is_one_line(tmp_path):
    from video_anomaly.errors import ConfigError
    from video_anomaly.serve.store import Store

    with pytest.raises(ConfigError, match="database"):
        Store("nosuchdialect://x", tmp_path)
    s = Store(f"postgresql+psycopg://u:secret@127.0.0.1:{free_port()}/db", tmp_path)
    with pytest.raises(ConfigError, match="cannot connect") as err:
        s.migrate()
    assert "secret" not in str(err.value)

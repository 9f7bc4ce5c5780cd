"""The event store: one table of events in any database SQLAlchemy 2 reaches (SQLite by default, PostgreSQL).

An event's life in the store: ``open`` when the tracker announces it (``event_start``), ``closed`` with its peak,
box, score curve and snapshot when it ends, then its clip once the post-roll is written. An event still ``open``
when the service starts was cut off by a crash (kill -9, power): ``Store.interrupt_open`` marks it
``interrupted`` (kept, never reopened). Each event has a ``uid`` (camera, worker run, first frame) that is unique
in the table, so recording an event twice updates it instead of adding a duplicate.

The schema is versioned: ``schema_version`` holds the version the database is at, and ``migrate`` applies the
steps in ``MIGRATIONS`` above it, each in its own transaction. Times are Unix seconds (UTC).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import ConfigError

OPEN, CLOSED, INTERRUPTED = "open", "closed", "interrupted"
LABELS = ("normal", "confirmed")


def _v1(md: sa.MetaData, conn: sa.Connection | None) -> None:
    """Version 1: the events table. Never edit a released step: add the next one."""
    table = sa.Table(
        "events",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(200), nullable=False, unique=True),
        sa.Column("camera", sa.String(64), nullable=False, index=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("start_frame", sa.Integer, nullable=False),
        sa.Column("end_frame", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_ts", sa.Float, nullable=False, index=True),
        sa.Column("end_ts", sa.Float),
        sa.Column("peak_ts", sa.Float),
        sa.Column("peak_score", sa.Float),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("bbox", sa.JSON),
        sa.Column("curve", sa.JSON),
        sa.Column("snapshot", sa.String(400)),
        sa.Column("clip", sa.String(400)),
        sa.Column("media_bytes", sa.BigInteger, nullable=False),
        sa.Column("label", sa.String(16)),
        sa.Column("labelled_ts", sa.Float),
        sa.Column("feedback", sa.String(400)),
        sa.Column("updated_ts", sa.Float, nullable=False),
    )
    if conn is not None:
        table.create(conn)


def _v2(md: sa.MetaData, conn: sa.Connection | None) -> None:
    """Version 2: what an object tracker may say of an event: its class (``object_label``, e.g. ``person``; the
    column ``label`` is the operator's review), its track and the kind of event."""
    table = md.tables["events"]
    for col in (sa.Column("object_label", sa.String(64)), sa.Column("track_id", sa.String(64)),
                sa.Column("kind", sa.String(32))):  # fmt: skip
        table.append_column(col)
        if conn is not None:
            conn.execute(sa.text(f"ALTER TABLE events ADD COLUMN {col.name} {col.type.compile(conn.dialect)}"))
    if conn is not None:
        sa.Index("ix_events_object_label", table.c.object_label).create(conn)


# version -> the step from version - 1 to version. A step ``(md, conn)`` changes the tables in ``md`` and, when
# ``conn`` is given, the database the same way (a later step adds a column to ``md.tables["events"]`` and runs its
# ALTER TABLE). Replaying every step without a connection gives the schema the code uses: one definition of it.
MIGRATIONS: dict[int, Callable[[sa.MetaData, sa.Connection | None], None]] = {1: _v1, 2: _v2}
SCHEMA_VERSION = max(MIGRATIONS)


def _schema(upto: int, conn: sa.Connection | None = None, start: int = 0) -> sa.MetaData:
    md = sa.MetaData()
    sa.Table("schema_version", md, sa.Column("version", sa.Integer, nullable=False))
    for v in range(1, upto + 1):
        MIGRATIONS[v](md, conn if v > start else None)
    return md


metadata = _schema(SCHEMA_VERSION)
events = metadata.tables["events"]
schema_version = metadata.tables["schema_version"]


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL: readers (the web pages) never block the camera workers' writes; busy_timeout: writers from several
    # processes wait for each other instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def redact(url: str) -> str:
    """A database URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: say so as given
        return url


class Store:
    """Events in a database and their media files under ``media``. One per process (it owns an engine).

    ``migrate()`` must have run once (the service does it at start, before any worker starts)."""

    def __init__(self, url: str, media: str | Path):
        self.url = url
        self.media = Path(media)
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        except (sa.exc.ArgumentError, ImportError, sa.exc.NoSuchModuleError) as exc:
            raise ConfigError(f"database {redact(url)}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------------------------------ schema
    def version(self, conn: sa.Connection) -> int:
        if not sa.inspect(conn).has_table("schema_version"):
            return 0
        return int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0)

    def check(self) -> int:
        """The schema version found, changing nothing (``serve --check`` beside a running service); a database it
        cannot reach, or one of a newer schema, is refused."""
        try:
            with self.engine.connect() as conn:
                found = self.version(conn)
        except sa.exc.OperationalError as exc:
            raise ConfigError(f"database {redact(self.url)}: cannot connect: {exc.orig}") from None
        if found > SCHEMA_VERSION:
            raise ConfigError(
                f"database {redact(self.url)}: schema version {found} is newer than this program's "
                f"({SCHEMA_VERSION}): upgrade video-anomaly"
            )
        return found

    def migrate(self) -> int:
        """Bring the schema to ``SCHEMA_VERSION``; returns the version found. A newer database is refused."""
        found = self.check()
        if found == 0:
            with self.engine.begin() as conn:
                schema_version.create(conn, checkfirst=True)
        for v in range(found + 1, SCHEMA_VERSION + 1):
            with self.engine.begin() as conn:
                _schema(v, conn, start=v - 1)  # the steps before v rebuild the tables in memory only
                conn.execute(schema_version.delete())
                conn.execute(schema_version.insert().values(version=v))
        return found

    # ------------------------------------------------------------------------------------------ writing
    def record(self, uid: str, **values: Any) -> int:
        """Insert the event ``uid`` or update it (idempotent: recording twice never makes two rows); its id.

        ``values``: columns of ``events``. A row that is already ``closed`` is never set back to ``open``."""
        values = {**values, "updated_ts": time.time()}
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(events.c.id, events.c.status).where(events.c.uid == uid)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        res = conn.execute(events.insert().values(uid=uid, media_bytes=0, **values))
                        return int(res.inserted_primary_key[0])
                except IntegrityError:  # another writer inserted it first: update below
                    row = conn.execute(sa.select(events.c.id, events.c.status).where(events.c.uid == uid)).first()
            if row.status != OPEN and values.get("status") == OPEN:
                values.pop("status")
            conn.execute(events.update().where(events.c.id == row.id).values(**values))
            return int(row.id)

    def add_media_bytes(self, uid: str, n: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                events.update()
                .where(events.c.uid == uid)
                .values(media_bytes=events.c.media_bytes + int(n), updated_ts=time.time(), **values)
            )

    def interrupt_open(self, camera: str | None = None) -> int:
        """Events left ``open`` by a service or worker that died (of ``camera``, or all): ``interrupted``. Their
        count."""
        return len(self.interrupt_open_ids(camera))

    def interrupt_open_ids(self, camera: str | None = None) -> list[int]:
        """As ``interrupt_open``; the ids of the events it marked (to announce them)."""
        with self.engine.begin() as conn:
            q = sa.select(events.c.id).where(events.c.status == OPEN)
            if camera is not None:
                q = q.where(events.c.camera == camera)
            ids = [int(i) for i in conn.execute(q.with_for_update()).scalars()]
            if ids:
                conn.execute(events.update().where(events.c.id.in_(ids), events.c.status == OPEN)
                             .values(status=INTERRUPTED, updated_ts=time.time()))  # fmt: skip
        return ids

    def mark(self, event_id: int, label: str | None, feedback: str | None = None) -> dict | None:
        """Set an event's label (``normal``, ``confirmed`` or None); the updated event, or None if absent."""
        if label is not None and label not in LABELS:
            raise ValueError(f"label must be one of {LABELS} or None, got {label!r}")
        now = time.time()
        with self.engine.begin() as conn:
            res = conn.execute(
                events.update()
                .where(events.c.id == event_id)
                .values(label=label, labelled_ts=now, feedback=feedback, updated_ts=now)
            )
            if not res.rowcount:
                return None
        return self.get(event_id)

    # ------------------------------------------------------------------------------------------ reading
    def get(self, event_id: int) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().first()
        return None if row is None else dict(row)

    def get_uid(self, uid: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(events).where(events.c.uid == uid)).mappings().first()
        return None if row is None else dict(row)

    def list(
        self,
        *,
        camera: str | None = None,
        since: float | None = None,
        until: float | None = None,
        label: str | None = None,
        object_label: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict]:
        """Events newest first, filtered by camera, start time in ``[since, until)``, review label and object
        label."""
        q = sa.select(events).order_by(events.c.start_ts.desc(), events.c.id.desc())
        if camera:
            q = q.where(events.c.camera == camera)
        if since is not None:
            q = q.where(events.c.start_ts >= since)
        if until is not None:
            q = q.where(events.c.start_ts < until)
        if label:
            q = q.where(events.c.label == label)
        if object_label:
            q = q.where(events.c.object_label == object_label)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.limit(limit).offset(offset)).mappings()]

    def object_labels(self) -> list[str]:
        """The object labels that events carry, sorted (for the pages' filter)."""
        with self.engine.connect() as conn:
            q = sa.select(events.c.object_label).where(events.c.object_label.is_not(None)).distinct()
            return sorted(conn.execute(q).scalars())

    def counts(self) -> dict[str, int]:
        """Events per camera."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(events.c.camera, sa.func.count()).group_by(events.c.camera))
            return {cam: int(n) for cam, n in rows}

    def media_bytes(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(events.c.media_bytes), 0))).scalar())

    # ------------------------------------------------------------------------------------------ retention
    def apply_retention(self, *, max_age_s: float | None, max_bytes: int | None, now: float | None = None) -> list[int]:
        """Delete events (rows and media) older than ``max_age_s``, then the oldest until the media total at most
        ``max_bytes``. Open events are never touched. Returns the ids deleted, oldest first."""
        now = time.time() if now is None else now
        doomed: list[dict] = []
        with self.engine.connect() as conn:
            done = sa.select(events.c.id, events.c.snapshot, events.c.clip, events.c.media_bytes, events.c.start_ts)
            done = done.where(events.c.status != OPEN).order_by(events.c.start_ts, events.c.id)
            rows = [dict(r) for r in conn.execute(done).mappings()]
            total = int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(events.c.media_bytes), 0))).scalar())
        for r in rows:
            old = max_age_s is not None and r["start_ts"] < now - max_age_s
            big = max_bytes is not None and total > max_bytes
            if not (old or big):
                break
            doomed.append(r)
            total -= int(r["media_bytes"] or 0)
        for r in doomed:
            # Files first: a crash between the two leaves a row without media (shown as such), never orphan files.
            for rel in (r["snapshot"], r["clip"]):
                if rel:
                    try:
                        os.unlink(self.media / rel)
                    except FileNotFoundError:
                        pass
            with self.engine.begin() as conn:
                conn.execute(events.delete().where(events.c.id == r["id"]))
        return [r["id"] for r in doomed]


def iso(ts: float | None) -> str | None:
    """Unix seconds -> ISO 8601 UTC (``2026-12-05T12:30:00.123Z``)."""
    if ts is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_json(row: dict, base_url: str = "", *, curve: bool = False) -> dict:
    """An event as the API, MQTT and webhooks give it (links absolute when ``base_url`` is given). ``label`` is
    the operator's review; an object tracker's class, track and kind (when an event has them) are
    ``object_label``, ``track_id`` and ``kind``."""
    media = f"{base_url}/media/"
    out = {
        "id": row["id"],
        "uid": row["uid"],
        "camera": row["camera"],
        "status": row["status"],
        "start": iso(row["start_ts"]),
        "end": iso(row["end_ts"]),
        "start_ts": row["start_ts"],
        "end_ts": row["end_ts"],
        "duration_s": None if row["end_ts"] is None else round(row["end_ts"] - row["start_ts"], 3),
        "start_frame": row["start_frame"],
        "end_frame": row["end_frame"],
        "peak": iso(row["peak_ts"]),
        "peak_score": row["peak_score"],
        "threshold": row["threshold"],
        "bbox": row["bbox"],
        "label": row["label"],
        "url": f"{base_url}/events/{row['id']}",
        "snapshot_url": media + row["snapshot"] if row["snapshot"] else None,
        "clip_url": media + row["clip"] if row["clip"] else None,
    }
    for key in ("object_label", "track_id", "kind"):
        if row.get(key) is not None:
            out[key] = row[key]
    if curve:
        out["curve"] = row["curve"]
    return out


def notification_json(row: dict, base_url: str) -> dict:
    """An event as MQTT and webhooks send it: ``event_json`` with absolute links and the fields NVR consumers
    (Frigate's style) read: ``label`` (the object's class, else ``anomaly``), ``score`` (its peak) and ``box``;
    the review label is ``review`` (no one has reviewed an event when it is announced)."""
    out = event_json(row, base_url)
    out["review"] = out.pop("label")
    out.update(label=row.get("object_label") or "anomaly", score=row["peak_score"], box=row["bbox"])
    return out

"""``video-anomaly serve``: many cameras, an event store, web pages to review events, notifications.

``config`` (TOML -> frozen dataclasses), ``store`` (SQLAlchemy, versioned schema), ``media`` (snapshots, clips),
``workers`` (one process per camera running the live session of ``watch``; the supervisor), ``notify`` (MQTT,
webhooks), ``app`` (FastAPI pages and JSON API), ``service`` (all of it together). The detector knows nothing of
any of this: the workers use the public API as ``watch`` does. See ``docs/serve.md``.
"""

"""``video-anomaly serve CONFIG.toml``: run the camera service (see ``docs/serve.md``).

Cameras, event store, web server, MQTT and webhooks from one TOML file (docs/serve.md). One worker process per
camera runs the live session of `watch`; SIGTERM stops it cleanly.
"""

from __future__ import annotations

HELP = "run many cameras as a service: an event store, web pages to review events, MQTT and webhooks"


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG.toml", help="the service's config file")
    p.add_argument("--check", action="store_true", help="check the config (detectors, sources, database) and exit")


def run(args) -> int:
    from ..api import ConfigError

    try:
        from ..api import Service, Store, check_config, listen
        from ..api import load_serve_config as load_config
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"serve needs the optional dependencies: pip install 'video-anomaly[serve]' ({exc})"
        ) from None
    config = load_config(args.config)
    check_config(config)
    if args.check:
        store = Store(config.store.database, config.store.media)  # read only: a running service's events stay open
        try:
            store.check()
        finally:
            store.close()
        print(f"{args.config}: {len(config.cameras)} camera(s), database and detectors ok")
        return 0
    sock = listen(config)  # a port in use stops it here, before anything is created
    Service(config).run(sock)
    return 0

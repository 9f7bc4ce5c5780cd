"""One module per CLI sub-command; each has ``register(subparsers)``. See ``video_anomaly.cli``."""

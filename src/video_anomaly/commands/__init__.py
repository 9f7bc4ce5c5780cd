"""One module per CLI sub-command: ``HELP``, ``add_arguments(parser)``, ``run(args)``. See ``video_anomaly.cli``."""

"""One module per CLI sub-command: ``HELP``, ``add_arguments(parser)``, ``run(args)``. See ``video_anomaly.cli``."""


def flags(args, names: str) -> dict:
    """``{name: args.<name>}`` for the space-separated ``names``: flags that an API call takes under the same
    names, passed through as they are."""
    return {name: getattr(args, name) for name in names.split()}

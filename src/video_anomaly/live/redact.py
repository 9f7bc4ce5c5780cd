"""A stream URL as it may be shown: in warnings, errors, event lines (``watch``), pages, the API and MQTT
(``serve``). The one place that hides a camera's secrets; ``sources.open_live_source`` names a stream by it."""

from __future__ import annotations

import re


def redact_source(source: str) -> str:
    """A camera URL as it may be shown (pages, API, errors, logs, MQTT): its user and password, every query value
    and its fragment hidden (``rtsp://u:pw@cam/x?channel=1&token=abc`` -> ``rtsp://***@cam/x?channel=***&token=***``).
    Every query value, not only those named like a secret: cameras take credentials under many names (``token``,
    ``pwd``, ``auth``, ``sig``, ...), and the names alone still say which options are set."""
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in source:
        return source
    try:
        parts = urlsplit(source)
    except ValueError:
        return "(unreadable URL)"
    netloc = parts.netloc if "@" not in parts.netloc else "***@" + parts.netloc.rsplit("@", 1)[1]
    query = "&".join(p.split("=", 1)[0] + "=***" if "=" in p else p and "***" for p in parts.query.split("&"))
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment="***" if parts.fragment else ""))


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_text(text: str) -> str:
    """``text`` (an error, a log line) with every URL in it passed through ``redact_source`` (FFmpeg and the
    sources quote a camera's URL in their own ways; a punctuation mark that ends a sentence stays outside)."""

    def one(m: re.Match) -> str:
        url = m.group(0)
        cut = len(url.rstrip(".,:;)]}"))
        return redact_source(url[:cut]) + url[cut:]

    return _URL.sub(one, text)

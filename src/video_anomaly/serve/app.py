"""The web pages and the JSON API (FastAPI, Jinja2 pages rendered on the server, a little JavaScript, no build step).

Pages: ``/`` cameras with their live state; ``/cameras/{name}`` one camera's live view and its day's timeline
(``views.py``); ``/events`` the events with snapshots (filter by camera, day, time, object label, review label);
``/events/{id}`` one event: its object's clip, box, snapshot and score curve, the buttons "normal" and
"confirmed". API: ``GET /api/cameras``, ``GET /api/cameras/{name}/live.mjpeg`` and ``live.jpg``, ``GET
/api/events``, ``GET /api/events/{id}`` (links absolute, as in notifications), ``POST /api/events/{id}/label``
(``{"label": "normal" | "confirmed" | null}``, header ``Authorization: Bearer TOKEN``), ``GET /healthz``; media
under ``/media/`` (never a file still being written: those have hidden names).

Everything shown is escaped (Jinja2 autoescape; camera sources have their user, password and query values hidden).
Anything that changes state needs the config's token, checked before a request's body is read (``ChangeGuard``); a
service without a token is read-only.
"""

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..live.redact import redact_source
from .config import CameraConfig, ServeConfig
from .store import LABELS, Store, event_json, iso

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
# The largest integer the database holds (SQLite's, and a BIGINT's): a larger id or offset from a request would
# overflow in the driver (HTTP 500); no event has it, so it is a 404 (an id) or a 422 (an offset).
MAX_INT = 2**63 - 1


def _parse_time(value: str | None, name: str) -> float | None:
    """``2026-12-05T10:00`` (a datetime-local field, UTC), ISO 8601 with zone, or Unix seconds -> Unix seconds."""
    from fastapi import HTTPException

    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name}: not a time: {value!r} (ISO 8601 or Unix seconds)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def sig3(value) -> str:
    """A number to 3 significant digits for the pages (``2.4685306549072266`` -> ``2.47``); "" for None."""
    return "" if value is None else f"{float(value):.3g}"


def frame_scores(curve) -> list | None:
    """The frame's score beside the object's in each row of a curve ``[[s, score, x0, y0, x1, y1, frame], ...]``
    (rows of 7); None for curves stored before events had their own (the score was the frame's)."""
    return [c[6] for c in curve] if curve and all(len(c) == 7 for c in curve) else None


def frame_score_at(curve, t: float | None) -> float | None:
    """The frame's score in the curve's row nearest ``t`` seconds from the start (None: not stored)."""
    frame = frame_scores(curve)
    if not frame or t is None:
        return None
    return frame[min(range(len(curve)), key=lambda k: abs(curve[k][0] - t))]


def curve_svg_points(curve, threshold: float, width: int = 600, height: int = 160) -> dict:
    """The score curve ``[[seconds, score, (box), (frame score)], ...]`` as SVG polyline points in a ``width`` x
    ``height`` box: ``points`` the object's score, ``frame_points`` the frame's (when stored)."""
    if not curve:
        return {"points": "", "threshold_y": None, "width": width, "height": height, "t_max": 0, "s_max": 0}
    frame = frame_scores(curve)
    t_max = max(max(c[0] for c in curve), 1e-6)
    t_min = min(min(c[0] for c in curve), 0.0)
    s_max = max(max(c[1] for c in curve), max(frame or [0.0]), threshold) * 1.1 or 1.0
    s_min = min(min(c[1] for c in curve), min(frame or [0.0]), 0.0)

    def xy(t, s):
        return (width * (t - t_min) / (t_max - t_min), height * (1 - (s - s_min) / (s_max - s_min)))

    def points(values):
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(c[0], v) for c, v in zip(curve, values)))

    return {
        "points": points([c[1] for c in curve]),
        "frame_points": points(frame) if frame else "",
        "threshold_y": round(xy(0, threshold)[1], 1),
        "x0": round(xy(0, 0)[0], 1),
        "width": width,
        "height": height,
        "t_max": round(t_max, 1),
        "s_max": round(s_max, 2),
    }


def day_span(day: str, since, until) -> tuple[float, float]:
    """The UTC day ``YYYY-MM-DD`` as ``(since, until)`` Unix seconds, narrowed by ``since``/``until`` when given."""
    from fastapi import HTTPException

    try:
        d0 = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise HTTPException(422, f"day: not a date: {day!r} (YYYY-MM-DD)") from None
    lo, hi = _parse_time(since, "since"), _parse_time(until, "until")
    return max(d0, lo if lo is not None else d0), min(d0 + 86400.0, hi if hi is not None else d0 + 86400.0)


def clamp_limit(limit) -> int:
    """Events per page: 1..500."""
    return max(1, min(int(limit), 500))


@dataclass(frozen=True)
class _Site:
    """What the pages and the API read: the config's cameras by name, the store, the supervisor's ``status()``
    and the token that guards every change (None: read-only)."""

    cameras: dict[str, CameraConfig]
    store: Store
    status: Callable[[], dict[str, dict]]
    token: str | None
    base_url: str = ""
    live: Any = None  # live.LiveFrames: each camera's latest frame (None: no live view)

    def cameras_json(self) -> list[dict]:
        """Each camera of the config with its latest state and its number of stored events."""
        st = self.status()
        counts = self.store.counts()
        out = []
        for name, cam in self.cameras.items():
            s = st.get(name, {})
            out.append(
                {
                    "camera": name,
                    "source": redact_source(cam.source),
                    "state": s.get("state", "unknown"),
                    "fps": s.get("fps"),
                    "last_frame": iso(s.get("last_frame_ts")),
                    "last_frame_ts": s.get("last_frame_ts"),
                    "score": s.get("score"),
                    "threshold": s.get("threshold", cam.threshold),
                    "in_event": bool(s.get("in_event")),
                    "error": s.get("error"),
                    "frames": s.get("frames"),
                    "events": counts.get(name, 0),
                }
            )
        return out

    def events(self, camera, since, until, label, limit, offset, *, day="", object_label="", base_url="") -> list[dict]:
        """The stored events that pass the filters (``limit`` clamped to 1..500; ``day`` ``YYYY-MM-DD``, UTC, within
        ``since``/``until``), newest first, as JSON (links absolute under ``base_url``)."""
        from fastapi import HTTPException

        if day:
            since, until = day_span(day, since, until)
        if camera and camera not in self.cameras and not self.store.counts().get(camera):
            raise HTTPException(404, f"no camera named {camera!r}")
        if label and label not in LABELS:
            raise HTTPException(422, f"label must be one of {', '.join(LABELS)}")
        limit = clamp_limit(limit)
        if int(offset) > MAX_INT:
            raise HTTPException(422, f"offset must be at most {MAX_INT}, got {offset}")
        rows = self.store.list(
            camera=camera or None,
            since=_parse_time(since, "since"),
            until=_parse_time(until, "until"),
            label=label or None,
            object_label=object_label or None,
            limit=limit,
            offset=max(0, int(offset)),
        )
        return [event_json(r, base_url) for r in rows]

    def row(self, event_id: int) -> dict:
        """The stored event ``event_id``, or HTTP 404."""
        from fastapi import HTTPException

        row = self.store.get(event_id) if 0 <= event_id <= MAX_INT else None
        if row is None:
            raise HTTPException(404, f"no event {event_id}")
        return row

    def check_token(self, authorization: str | None) -> None:
        """HTTP 403 on a read-only service, 401 unless ``authorization`` is ``Bearer TOKEN``."""
        from fastapi import HTTPException

        problem = token_problem(self.token, authorization)
        if problem is not None:
            raise HTTPException(*problem)


def token_problem(token: str | None, authorization: str | None) -> tuple[int, str, dict] | None:
    """Why a change is refused, as ``(status, detail, headers)``: 403 on a read-only service (``token`` None), 401
    unless ``authorization`` is ``Bearer TOKEN``; None when it is allowed."""
    if token is None:
        return 403, "this service is read-only: set [server] token in its config to allow changes", {}
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        return 401, "a valid token is needed (header Authorization: Bearer TOKEN)", {"WWW-Authenticate": "Bearer"}
    return None


class ChangeGuard:
    """ASGI middleware in front of everything that may change state (any method but GET, HEAD and OPTIONS): the
    token is checked before a byte of the body is read, and a body over ``max_body`` bytes is refused (413), by
    its Content-Length or as it arrives; what passes reaches the app with its body read. Without it the body was
    read and parsed whole before the token was looked at: anyone could make the service hold any amount."""

    def __init__(self, app, token: str | None, max_body: int):
        self.app, self.token, self.max_body = app, token, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        from fastapi.responses import JSONResponse

        headers = dict(scope["headers"])
        problem = token_problem(self.token, headers.get(b"authorization", b"").decode("latin-1"))
        too_big = (413, f"the request body is over {self.max_body} bytes ([server] max_body_kb)", {})
        length = headers.get(b"content-length", b"0")
        if problem is None and (not length.isdigit() or int(length) > self.max_body):
            problem = too_big
        body = b""
        while problem is None:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # the client went away
            body += msg.get("body", b"")
            if len(body) > self.max_body:
                problem = too_big
            elif not msg.get("more_body"):
                break
        if problem is not None:
            status, detail, extra = problem
            return await JSONResponse({"detail": detail}, status, headers=extra)(scope, receive, send)
        given = [False]

        async def replay():
            if given[0]:
                return await receive()
            given[0] = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def make_templates():
    """The pages' Jinja2 templates: autoescaped, with the filters ``iso`` (Unix s -> ISO 8601) and ``sig3``."""
    from fastapi.templating import Jinja2Templates
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters["iso"] = iso
    env.filters["sig3"] = sig3
    return Jinja2Templates(env=env)


def _page_routes(site: _Site):
    """The HTML pages: cameras, events (filtered), one event."""
    from fastapi import APIRouter, Request
    from fastapi.responses import HTMLResponse

    templates = make_templates()
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    def cameras_page(request: Request):
        return templates.TemplateResponse(request, "cameras.html", {"cameras": site.cameras_json()})

    @router.get("/events", response_class=HTMLResponse)
    def events_page(
        request: Request,
        camera: str = "",
        since: str = "",
        until: str = "",
        label: str = "",
        limit: int = 50,
        offset: int = 0,
        day: str = "",
        object: str = "",  # noqa: A002 - the query parameter's name
    ):
        evs = site.events(camera, since, until, label, limit, offset, day=day, object_label=object)
        ctx = {
            "events": evs,
            "cameras": list(site.cameras),
            "camera": camera,
            "since": since,
            "until": until,
            "label": label,
            "labels": LABELS,
            "day": day,
            "object": object,
            "objects": site.store.object_labels(),
            "limit": clamp_limit(limit),  # as events() clamps it: the pager steps by the page's real size
            "offset": offset,
        }
        return templates.TemplateResponse(request, "events.html", ctx)

    @router.get("/events/{event_id}", response_class=HTMLResponse)
    def event_page(request: Request, event_id: int):
        row = site.row(event_id)
        peak_t = None if row["peak_ts"] is None else row["peak_ts"] - row["start_ts"]
        ctx = {
            "ev": event_json(row, curve=True),
            "svg": curve_svg_points(row["curve"] or [], row["threshold"]),
            # The frame's score at the object's peak, said beside the object's own when they differ.
            "frame_at_peak": frame_score_at(row["curve"], peak_t),
            "labels": LABELS,
            "feedback": row["feedback"],
        }
        return templates.TemplateResponse(request, "event.html", ctx)

    return router


def _api_routes(site: _Site, on_label: Callable[[dict, str | None], str | None] | None):
    """The JSON API (see the module docstring) and ``/healthz``."""
    from fastapi import APIRouter, Header, HTTPException
    from fastapi.responses import JSONResponse

    router = APIRouter()

    @router.get("/api/cameras")
    def api_cameras():
        return site.cameras_json()

    @router.get("/api/events")
    def api_events(
        camera: str = "", since: str = "", until: str = "", label: str = "", limit: int = 100, offset: int = 0,
        day: str = "", object: str = "",  # noqa: A002 - the query parameter's name
    ):  # fmt: skip
        return site.events(camera, since, until, label, limit, offset, day=day, object_label=object,
                           base_url=site.base_url)  # fmt: skip

    @router.get("/api/events/{event_id}")
    def api_event(event_id: int):
        return event_json(site.row(event_id), site.base_url, curve=True)

    @router.post("/api/events/{event_id}/label")
    def api_label(event_id: int, body: dict, authorization: str | None = Header(default=None)):
        site.check_token(authorization)
        label = body.get("label") if isinstance(body, dict) else None
        if label is not None and label not in LABELS:
            raise HTTPException(422, f"label must be one of {', '.join(LABELS)} or null")
        site.row(event_id)
        row = site.store.mark(event_id, label)
        if on_label is not None:
            feedback = on_label(row, label)
            if feedback is not None:
                row = site.store.mark(event_id, label, feedback)
        out = event_json(row)
        out["feedback"] = row["feedback"]
        return out

    @router.get("/healthz")
    def healthz():
        return JSONResponse({"ok": True, "cameras": {n: s.get("state") for n, s in site.status().items()}})

    return router


def create_app(
    config: ServeConfig,
    store: Store,
    *,
    status: Callable[[], dict[str, dict]] = dict,
    on_label: Callable[[dict, str | None], str | None] | None = None,
    lifespan=None,
    live=None,
):
    """The FastAPI application. ``status()``: each camera's latest state (from the supervisor). ``on_label(event,
    label)``: called after a label is stored (the detector's feedback); what it returns is stored beside it.
    ``live``: the cameras' latest frames (``live.LiveFrames``; None: no live view)."""
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from .views import MediaFiles, camera_routes

    app = FastAPI(title="video-anomaly", lifespan=lifespan, docs_url="/api/docs", redoc_url=None)
    store.media.mkdir(parents=True, exist_ok=True)
    app.mount("/media", MediaFiles(directory=store.media), name="media")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    site = _Site({c.name: c for c in config.cameras}, store, status, config.server.token, config.server.url, live)
    app.add_middleware(ChangeGuard, token=config.server.token, max_body=int(config.server.max_body_kb * 1024))
    app.include_router(_page_routes(site))
    app.include_router(camera_routes(site, make_templates()))
    app.include_router(_api_routes(site, on_label))
    return app

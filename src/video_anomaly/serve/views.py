"""What an operator watches: each camera's live view with the heat map, its day's timeline of events with their
thumbnails, and the media files (never one still being written).

``/cameras/{name}?day=YYYY-MM-DD``: the live view (``/api/cameras/{name}/live.mjpeg``, ``live.py``) above a 24-hour
bar (UTC) with a mark per event and the events' snapshots in time order. ``/api/cameras/{name}/live.jpg``: the
latest frame alone (503 until the first).
"""

from datetime import datetime, timedelta, timezone

from starlette.staticfiles import StaticFiles

DAY_S = 86400.0
TIMELINE_LIMIT = 500  # events on one camera's day page (the busiest days show their newest)


class MediaFiles(StaticFiles):
    """``StaticFiles`` that never serves a hidden name: clips and snapshots are written under hidden temporary
    names (``.NAME.PID.part``) and renamed when whole, so a hidden file is never a finished one."""

    async def get_response(self, path: str, scope):
        from starlette.exceptions import HTTPException

        if any(part.startswith(".") for part in path.replace("\\", "/").split("/")):
            raise HTTPException(404)
        return await super().get_response(path, scope)


def timeline(events: list[dict], day0: float) -> list[dict]:
    """Each event of a day with its place on the day's bar: ``left`` and ``width`` in percent of 24 h (at least
    0.2 %, so that a short event stays visible), oldest first."""
    out = []
    for e in sorted(events, key=lambda e: e["start_ts"]):
        end = e["end_ts"] if e["end_ts"] is not None else e["start_ts"]
        left = max(0.0, (e["start_ts"] - day0) / DAY_S * 100)
        width = max(0.2, (min(end, day0 + DAY_S) - max(e["start_ts"], day0)) / DAY_S * 100)
        out.append({**e, "left": round(left, 3), "width": round(min(width, 100 - left), 3)})
    return out


def camera_routes(site, templates):
    """The camera page and the live view's two endpoints. ``site``: the app's ``_Site``."""
    from fastapi import APIRouter, HTTPException, Request
    from fastapi.responses import HTMLResponse, Response, StreamingResponse

    from .live import BOUNDARY

    router = APIRouter()

    def known(name: str) -> str:
        if name not in site.cameras:
            raise HTTPException(404, f"no camera named {name!r}")
        return name

    @router.get("/cameras/{name}", response_class=HTMLResponse)
    def camera_page(request: Request, name: str, day: str = ""):
        known(name)
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        day = day or today
        evs = site.events(name, "", "", "", TIMELINE_LIMIT, 0, day=day)
        d0 = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        cam = next(c for c in site.cameras_json() if c["camera"] == name)
        ctx = {
            "cam": cam,
            "day": day,
            "prev_day": (d0 - timedelta(days=1)).strftime("%Y-%m-%d"),
            "next_day": (d0 + timedelta(days=1)).strftime("%Y-%m-%d") if day < today else None,
            "events": timeline(evs, d0.timestamp()),
            "live": site.live is not None,
        }
        return templates.TemplateResponse(request, "camera.html", ctx)

    @router.get("/api/cameras/{name}/live.jpg")
    def live_jpg(name: str):
        known(name)
        n, jpeg = site.live.latest(name) if site.live is not None else (0, b"")
        if not jpeg:
            raise HTTPException(503, f"camera {name}: no live frame yet")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store", "X-Frame": str(n)})

    @router.get("/api/cameras/{name}/live.mjpeg")
    def live_mjpeg(name: str):
        known(name)
        if site.live is None:
            raise HTTPException(503, "this service has no live view")
        return StreamingResponse(site.live.mjpeg(name), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers={"Cache-Control": "no-store"})  # fmt: skip

    return router

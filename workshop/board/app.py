"""The board's web app (Starlette): learners join and post reports; the instructor reads.

Who may do what:
    anyone                 GET /  (the page itself holds no data), /static/*
    room code              POST /api/join, GET /bin/<key>/... (the instructor's binaries)
    room code + learner    POST /api/reports (the token from join: a report is theirs)
    instructor key         GET /api/board, /api/learners/<id>/report, /api/export.csv
No route lets a learner read anything another learner sent.
Errors are JSON: {"error": what happened, "fix": what to do}.

Bad input is a 4xx, never a 500: a header that is not plain ASCII is a 400 before any route
runs, a Host that is not this board's is a 400 (TrustedHostMiddleware: no DNS rebinding
from a page in the instructor's browser), bodies are bounded and validated (schema.py),
every route that takes a secret or serves a file is rate limited per client, and a full
room answers 507.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from workshop.board import binaries, schema
from workshop.board.ratelimit import Limit
from workshop.board.store import QuotaFull, Room

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    # Nothing external loads and no inline script runs: markup that slipped into a name
    # or a hint could not execute even if it were ever inserted as HTML.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Names this board answers to when it listens on loopback only; serve.py adds the
# machine's own addresses when it listens on the room's network.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class Refused(Exception):
    def __init__(self, status: int, error: str, fix: str = "", headers: dict | None = None):
        super().__init__(error)
        self.status, self.error, self.fix, self.headers = status, error, fix, headers or {}


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:].strip() if value.lower().startswith("bearer ") else None


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    too_big = Refused(413, f"the body is larger than {schema.MAX_BODY // 1024} KB",
                      "send one report at a time")
    if length and length.isdigit() and int(length) > schema.MAX_BODY:
        raise too_big
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > schema.MAX_BODY:
            raise too_big
    return body


def create_app(room: Room, *, kit: schema.Kit | None = None, stuck_after_s: float = 600,
               bin_root: Path | None = None, report_limit: str = "30/15 seconds",
               join_limit: str = "300/minute", failure_limit: str = "20/40 seconds",
               bin_limit: str = "1000/10 minutes",
               allowed_hosts: tuple[str, ...] | list[str] = LOOPBACK_HOSTS) -> Starlette:
    """`kit`: the exercises and checks reports may name (default: the kit's lessons); its
    exercises are the grid's columns before anyone has reported. The limits are per
    learner (reports) or per address (`limits` notation: "30/15 seconds")."""
    kit = kit if kit is not None else schema.Kit.from_lessons()
    columns = kit.exercises
    report_limits = Limit(report_limit)
    join_limits = Limit(join_limit)
    # Wrong codes and keys from one address: slow guessing down to a crawl.
    failure_limits = Limit(failure_limit)
    # The binaries: a whole classroom behind one NAT address fetches ~15 files each.
    bin_limits = Limit(bin_limit)
    served = binaries.Served(bin_root) if bin_root else None

    def limited(limit: Limit, key: str) -> None:
        wait = limit.take(key)
        if wait:
            raise Refused(429, "too many requests from this client",
                          f"wait {wait:.1f}s; the kit's client retries by itself",
                          {"Retry-After": str(max(1, round(wait)))})

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "?"

    def need_code(request: Request) -> None:
        if not room.code_ok(request.headers.get("x-room-code")):
            limited(failure_limits, client_ip(request))
            raise Refused(401, "wrong room code",
                          "use the code in the join line the instructor's `make board` "
                          "printed: `make join ROOM=<url> CODE=<code> PIN=... NAME=...`")

    def need_instructor(request: Request) -> None:
        if not room.instructor_ok(_bearer(request)):
            limited(failure_limits, client_ip(request))
            raise Refused(403, "this needs the instructor key",
                          "open the instructor link `make board` printed (…/#key=...)")

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "page.html", media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ("page.js", "page.css"):
            raise Refused(404, "no such file")
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(STATIC / name, media_type=kind)

    async def join(request: Request) -> Response:
        limited(join_limits, client_ip(request))
        need_code(request)
        try:
            name = schema.join(await _body(request))
        except schema.Invalid as exc:
            raise Refused(422, str(exc), "choose a plain name, e.g. NAME='Ada L'")
        try:
            learner_id, token = room.join(name)
        except QuotaFull as exc:
            raise Refused(507, str(exc), "ask the instructor: a room has a bounded number "
                          "of learners") from None
        return JSONResponse({"learner_id": learner_id, "token": token, "name": name},
                            status_code=201)

    async def post_report(request: Request) -> Response:
        need_code(request)
        learner_id = room.learner_for(_bearer(request))
        if learner_id is None:
            limited(failure_limits, client_ip(request))
            raise Refused(401, "unknown learner (not joined to this room)",
                          "join again with the join line: "
                          "`make join ROOM=<url> CODE=<code> PIN=... NAME=...`")
        limited(report_limits, learner_id)
        try:
            graded_at, report = schema.envelope(await _body(request), room.clock(), kit)
        except schema.Invalid as exc:
            raise Refused(422, f"not a grading report: {exc}",
                          "send grading.to_json(report) of one of the kit's lessons as "
                          "`report`, with `graded_at` the Unix time it was graded")
        try:
            seq = await run_in_threadpool(room.add_report, learner_id, graded_at, report)
        except QuotaFull as exc:
            raise Refused(507, str(exc), "your reports stay queued on your laptop; tell the "
                          "instructor") from None
        return JSONResponse({"seq": seq}, status_code=201)

    async def board(request: Request) -> Response:
        need_instructor(request)
        since = request.query_params.get("since")
        if since is not None and since == room.version:
            return JSONResponse({"unchanged": True, "version": room.version})
        data = await run_in_threadpool(room.board, columns, stuck_after_s)
        return JSONResponse(data)

    async def learner_report(request: Request) -> Response:
        need_instructor(request)
        data = room.latest_report(request.path_params["learner_id"])
        if data is None:
            raise Refused(404, "no report from this learner yet")
        return JSONResponse(data)

    async def export(request: Request) -> Response:
        need_instructor(request)
        text = await run_in_threadpool(room.csv, columns, stuck_after_s)
        return Response(text, media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="workshop-room.csv"'})

    async def bin_manifest(request: Request) -> Response:
        limited(bin_limits, client_ip(request))
        need_code(request)
        key = request.path_params["key"]
        manifest = await run_in_threadpool(served.manifest, key) if served else None
        if manifest is None:
            raise Refused(404, f"this board serves no binaries for {key}",
                          "build them locally (`make up` does)")
        return JSONResponse(manifest)

    async def bin_file(request: Request) -> Response:
        limited(bin_limits, client_ip(request))
        need_code(request)
        path = served.file(request.path_params["key"], request.path_params["name"]) \
            if served else None
        if path is None:
            raise Refused(404, "no such binary")
        return FileResponse(path, media_type="application/octet-stream")

    async def ping(request: Request) -> Response:
        return JSONResponse({"board": "karpenter-workshop"})

    app = Starlette(routes=[
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/ping", ping),
        Route("/api/join", join, methods=["POST"]),
        Route("/api/reports", post_report, methods=["POST"]),
        Route("/api/board", board),
        Route("/api/learners/{learner_id}/report", learner_report),
        Route("/api/export.csv", export),
        Route("/bin/{key}/manifest", bin_manifest),
        Route("/bin/{key}/files/{name:path}", bin_file),
    ], middleware=[Middleware(_SecurityHeaders), Middleware(_PlainHeaders),
                   Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts),
                              www_redirect=False)],
        exception_handlers={Refused: _refused, 404: _not_found, 405: _not_allowed})
    app.state.room = room
    return app


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (a plain ASGI middleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.lower().encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _PlainHeaders:
    """A request with a header that is not printable ASCII is a 400 before any route runs
    (a room code or token in another script would otherwise reach code that assumes
    ASCII). Plain ASGI, so nothing downstream ever sees the header."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and any(
                any(b < 0x20 or b > 0x7E for b in value.replace(b"\t", b" "))
                for _, value in scope["headers"]):
            response = JSONResponse({"error": "a request header is not plain ASCII",
                                     "fix": "send room codes and tokens as the board printed "
                                            "them"}, status_code=400)
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


async def _refused(request: Request, exc: Refused) -> Response:
    return JSONResponse({"error": exc.error, "fix": exc.fix}, status_code=exc.status,
                        headers=exc.headers)


async def _not_found(request: Request, exc) -> Response:
    return JSONResponse({"error": "no such page", "fix": "the instructor's page is /"},
                        status_code=404)


async def _not_allowed(request: Request, exc) -> Response:
    return JSONResponse({"error": "method not allowed"}, status_code=405)

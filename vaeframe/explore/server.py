"""The explorer's HTTP server: the page's three files and a small JSON API, from the
standard library's ``http.server``.

Only the names in :data:`PAGE_FILES` are served, from this package; every other path is a
404, so no request can reach a file outside them. A request with bad parameters gets a 4xx
and a one-line JSON ``{"error": ...}``; a failure of the server itself a 500 with a short
message (the traceback goes to the console, never to the page).
"""

from __future__ import annotations

import json
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from vaeframe.explore.session import BadRequest, ExploreSession

PAGE_FILES = {  # URL path -> (file in vaeframe/explore/static, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/explore.js": ("explore.js", "text/javascript; charset=utf-8"),
    "/explore.css": ("explore.css", "text/css; charset=utf-8"),
}
MAX_BODY = 1 << 20  # bytes: a 30×30 grid or a few hundred codes are far less


def _page_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("vaeframe.explore") / "static"
    return {path: ((folder / name).read_bytes(), kind)
            for path, (name, kind) in PAGE_FILES.items()}


def _no_constants(name: str) -> float:
    raise BadRequest(f"{name} is not a number JSON allows; codes must be finite")


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}", parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the request body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _one(query: dict[str, list[str]], key: str, default: str | None = None) -> str:
    values = query.get(key)
    if not values:
        if default is None:
            raise BadRequest(f"missing parameter {key!r}")
        return default
    return values[-1]


def _index(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"index = {text!r}: expected a whole number") from None


class ExploreServer(ThreadingHTTPServer):
    """A threading HTTP server holding the session the handlers answer from."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], session: ExploreSession) -> None:
        self.session = session
        self.files = _page_files()
        self.rng = np.random.default_rng()
        super().__init__(address, ExploreHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"


class ExploreHandler(BaseHTTPRequestHandler):
    server: ExploreServer
    server_version = "vaeframe-explore"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request would drown the console while a slider moves."""

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own errors (a malformed request line, an unsupported method) as
        JSON like every other error, not its HTML page."""
        self.close_connection = True
        self._json(code, {"error": message or HTTPStatus(code).phrase})

    # -- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            if url.path in self.server.files and method == "GET":
                content, kind = self.server.files[url.path]
                self._send(HTTPStatus.OK, content, kind)
                return
            route = ROUTES.get((method, url.path))
            if route is None:
                known = any(path == url.path for _, path in ROUTES)
                raise BadRequest(f"{method} {url.path}: " +
                                 ("wrong method" if known else "not found"),
                                 status=405 if known else 404)
            query = parse_qs(url.query, keep_blank_values=True)
            body = _json_body(self._body()) if method == "POST" else {}
            self._json(HTTPStatus.OK, route(self.server, query, body))
        except BadRequest as exc:
            self._json(exc.status, {"error": str(exc)})
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                       {"error": "the explorer failed on this request; see its console"})

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if length < 0 or length > MAX_BODY:
            raise BadRequest(f"the request body must be at most {MAX_BODY} bytes", status=413)
        return self.rfile.read(length)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, separators=(",", ":")).encode(),
                   "application/json")

    def _send(self, status: int, content: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(content)


# -- the API: (server, query, body) -> JSON ---------------------------------------------------

Query = dict[str, list[str]]


def _state(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    return server.session.state()


def _map(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    return server.session.map()


def _grid(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    return server.session.grid(_one(query, "split"), _index(_one(query, "index")))


def _random(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    return server.session.random(_one(query, "split", "train"), server.rng)


def _find(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    wanted = {key: values[-1] for key, values in query.items() if key != "split"}
    return server.session.find(_one(query, "split", "train"), wanted)


def _encode(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    if "grid" not in body:
        raise BadRequest('POST /api/encode takes {"grid": [[colour, ...], ...]}')
    return server.session.encode(body["grid"])


def _decode(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    if "codes" not in body:
        raise BadRequest('POST /api/decode takes {"codes": [[number, ...], ...]}')
    return {"grids": server.session.decode(body["codes"])}


def _interpolate(server: ExploreServer, query: Query, body: dict[str, Any]) -> Any:
    if "a" not in body or "b" not in body:
        raise BadRequest('POST /api/interpolate takes {"a": code, "b": code, "steps": n}')
    return server.session.interpolate(body["a"], body["b"], body.get("steps", 9))


ROUTES = {
    ("GET", "/api/state"): _state,
    ("GET", "/api/map"): _map,
    ("GET", "/api/grid"): _grid,
    ("GET", "/api/random"): _random,
    ("GET", "/api/find"): _find,
    ("POST", "/api/encode"): _encode,
    ("POST", "/api/decode"): _decode,
    ("POST", "/api/interpolate"): _interpolate,
}

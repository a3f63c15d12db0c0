"""The web app around the dashboard's Blocks: the login, /data-docs/ (protected like the dashboard)
and the address rules (no login needed on loopback; a login required anywhere else).

Gradio keeps the login session; whether a request to /data-docs/ belongs to a signed-in session is
asked of Gradio's own public endpoint `GET /gradio_api/user` (the one its front end uses), in
process, so nothing here reads Gradio's internals.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import gradio as gr
import httpx

from flows.errors import BapError
from ui.theme import CSS, HEAD, make_theme

DATA_DOCS_PATH: Final[str] = "/data-docs"
USER_ENDPOINT: Final[str] = "/gradio_api/user"


class DashboardConfigError(BapError):
    """The dashboard cannot start as configured (e.g. exposed without credentials)."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and 'localhost' are loopback; everything else (0.0.0.0 included) is not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_credentials(auth: str | None) -> tuple[str, str] | None:
    """'user:password' -> (user, password); None when unset. Raises on a malformed value."""
    if auth is None or auth == "":
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise DashboardConfigError("BAP_DASHBOARD_AUTH must look like user:password (both non-empty)")
    return user, password


def required_credentials(host: str, auth: str | None) -> tuple[str, str] | None:
    """The login the dashboard asks for; refuses to expose the warehouse without one."""
    credentials = parse_credentials(auth)
    if credentials is None and not is_loopback(host):
        raise DashboardConfigError(
            f"refusing to serve the dashboard on {host} without a login: set BAP_DASHBOARD_AUTH=user:password, "
            "or bind to 127.0.0.1"
        )
    return credentials


class ProtectedStatic:
    """ASGI wrapper: serve `app` only to a request logged in to the Gradio app (its session
    cookie) or carrying HTTP Basic credentials; otherwise 401 with a link to the login."""

    def __init__(
        self, app: Any, credentials: tuple[str, str], session_user: Callable[[Any], Awaitable[str | None]]
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.session_user = session_user

    def _basic_ok(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        ok_user = secrets.compare_digest(user.encode(), self.credentials[0].encode())
        ok_password = secrets.compare_digest(password.encode(), self.credentials[1].encode())
        return ok_user and ok_password

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[..., Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request
        from starlette.responses import HTMLResponse

        request = Request(scope)
        if self._basic_ok(request.headers.get("authorization")) or await self.session_user(request):
            await self.app(scope, receive, send)
            return
        body = (
            "<!doctype html><meta charset='utf-8'><title>Sign in</title>"
            "<body style='font-family:system-ui;background:#070b1a;color:#e8edf7;display:grid;place-items:center;height:90vh'>"
            "<div><h2>Sign in to the dashboard first</h2><p><a style='color:#7dd3fc' href='/'>Open the dashboard</a>, "
            "sign in, then follow its Data Docs link.</p></div></body>"
        )
        response = HTMLResponse(body, status_code=401, headers={"WWW-Authenticate": 'Basic realm="bap dashboard"'})
        await response(scope, receive, send)


class DataDocsFiles:
    """ASGI app: the Data Docs folder as static files, or a plain 404 page while the quality step
    has not built them yet (the folder may appear while the dashboard runs)."""

    def __init__(self, directory: Path) -> None:
        from starlette.staticfiles import StaticFiles

        self.directory = directory
        self.files = StaticFiles(directory=str(directory), html=True, check_dir=False)

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[..., Awaitable[None]]
    ) -> None:
        if scope["type"] == "http" and not self.directory.is_dir():
            from starlette.responses import HTMLResponse

            body = (
                "<!doctype html><meta charset='utf-8'><title>Data Docs</title>"
                "<body style='font-family:system-ui;background:#070b1a;color:#e8edf7;display:grid;place-items:center;height:90vh'>"
                "<div><h2>No Data Docs yet</h2><p>They are built by the quality step of the daily pipeline.</p></div></body>"
            )
            await HTMLResponse(body, status_code=404)(scope, receive, send)
            return
        await self.files(scope, receive, send)


def session_user_of(app: Any) -> Callable[[Any], Awaitable[str | None]]:
    """A function that asks the served app who a request's cookies belong to (None: nobody)."""

    async def session_user(request: Any) -> str | None:
        if not request.cookies:
            return None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as client:
            answer = await client.get(USER_ENDPOINT, cookies=dict(request.cookies))
        user = answer.json() if answer.status_code == 200 else None
        return str(user) if user else None

    return session_user


def create_web_app(
    blocks: gr.Blocks,
    *,
    data_docs_dir: Path,
    credentials: tuple[str, str] | None,
) -> Any:
    """FastAPI app: /data-docs/ (static, protected like the dashboard) and the dashboard at /."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    static: Any = DataDocsFiles(data_docs_dir)
    if credentials is not None:
        static = ProtectedStatic(static, credentials, session_user_of(app))

    @app.get(DATA_DOCS_PATH, include_in_schema=False)
    def _data_docs_root() -> RedirectResponse:
        return RedirectResponse(DATA_DOCS_PATH + "/")

    app.mount(DATA_DOCS_PATH, static, name="data-docs")
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth=credentials,
        auth_message="Transactions analytics: sign in with the dashboard login (BAP_DASHBOARD_AUTH).",
        theme=make_theme(),
        css=CSS,
        head=HEAD,
        footer_links=[],
        show_error=True,
    )
    return app

"""HTTP for signing in and out, and for the page behind a one-time password link (anyone holding the link may use
it, once, signed in or not)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from app.rules import RuleViolation
from app.signin import password_links
from app.signin.services import SignInRefused, ask_for_reset, clean_email, sign_in
from app.signin.sessions import end_sessions, start_session
from app.signin.throttle import LoginThrottle, reset_throttle
from app.web.auth import safe_next
from app.web.deps import Viewer
from app.web.forms import read_form
from app.web.security import NO_STORE
from app.web.templating import done, render


class LoginForm(msgspec.Struct, frozen=True):
    email: str = ""
    password: str = ""
    next: str = ""


class ForgotForm(msgspec.Struct, frozen=True):
    email: str = ""


class PasswordForm(msgspec.Struct, frozen=True):
    password: str = ""
    confirm: str = ""


def provide_throttle(state: State) -> LoginThrottle:
    return LoginThrottle(state.redis)


def provide_reset_throttle(state: State) -> LoginThrottle:
    return reset_throttle(state.redis)


class AuthController(Controller):
    dependencies = {
        "throttle": Provide(provide_throttle, sync_to_thread=False),
        "reset_throttle": Provide(provide_reset_throttle, sync_to_thread=False),
    }
    opt = {"public": True}

    def _next(self, request: HTMXRequest, target: str | None) -> str:
        return safe_next(target, default=request.app.route_reverse("home"))

    @get("/login", name="login")
    async def login_page(
        self, request: HTMXRequest, viewer: Viewer, next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if viewer is not None:
            return Redirect(self._next(request, next), status_code=303)
        context = {"email": "", "next": self._next(request, next), "error": None}
        return await render(request, "pages/people/login.html", context)

    @post("/login", name="login.submit")
    async def login(self, request: HTMXRequest, throttle: NamedDependency[LoginThrottle]) -> Template | Redirect:
        form = await read_form(request, LoginForm)
        next_url = self._next(request, form.next)
        address = request.client.host if request.client else "unknown"
        try:
            user = await sign_in(throttle, form.email, form.password, address)
        except SignInRefused as exc:
            return await render(
                request,
                "pages/people/login.html",
                {"email": clean_email(form.email), "next": next_url, "error": exc.message},
                status_code=exc.status_code,
                headers={"Retry-After": str(exc.retry_after)} if exc.retry_after else None,
            )
        await start_session(request, user)
        return Redirect(next_url, status_code=303)

    @get("/login/forgot", name="password.forgot", cache_control=NO_STORE)
    async def forgot_page(self, request: HTMXRequest) -> Template:
        return await render(request, "pages/people/forgot.html", {"email": "", "error": None})

    @post("/login/forgot", name="password.forgot.send")
    async def forgot(
        self, request: HTMXRequest, reset_throttle: NamedDependency[LoginThrottle]
    ) -> Template | Redirect | ClientRedirect:
        """Mail a reset link (by the worker) if an active account has the email; the answer is the same either way."""
        form = await read_form(request, ForgotForm)
        address = request.client.host if request.client else "unknown"
        try:
            message = await ask_for_reset(reset_throttle, form.email, address)
        except SignInRefused as exc:
            return await render(
                request,
                "pages/people/forgot.html",
                {"email": clean_email(form.email), "error": exc.message},
                status_code=exc.status_code,
                headers={"Retry-After": str(exc.retry_after)} if exc.retry_after else None,
            )
        return done(request, message, request.app.route_reverse("login"))

    @post("/logout", name="logout", opt={"public": False})
    async def logout(self, request: HTMXRequest) -> Redirect:
        request.clear_session()
        return Redirect(request.app.route_reverse("login") + "?signed_out=1", status_code=303)


class PasswordLinkController(Controller):
    path = "/password"
    opt = {"public": True}
    cache_control = NO_STORE  # the address itself is the secret

    async def _page(
        self, request: HTMXRequest, token: str, *, errors: Mapping[str, str] | None = None, status_code: int = 200
    ) -> Template:
        holder = await password_links.link_holder(token)
        if holder is None:
            errors, status_code = {"form": password_links.INVALID_LINK}, 400
        return await render(
            request,
            "pages/admin/password_link.html",
            {"holder": holder, "token": token, "errors": errors or {}},
            status_code=status_code,
        )

    @get("/{token:str}", name="password-link")
    async def show(self, request: HTMXRequest, token: FromPath[str]) -> Template:
        return await self._page(request, token)

    @post("/{token:str}", name="password-link.use")
    async def use(self, request: HTMXRequest, token: FromPath[str]) -> Template | Redirect | ClientRedirect:
        form = await read_form(request, PasswordForm)
        try:
            employee_id = await password_links.use_password_link(token, form.password, form.confirm)
        except RuleViolation as exc:
            return await self._page(request, token, errors=exc.errors, status_code=exc.status_code)
        await end_sessions(request.app, employee_id)
        request.set_session({})  # signed out here too, whoever was signed in; the flash message still shows
        return done(request, "Your password is set. Sign in with it.", request.app.route_reverse("login"))

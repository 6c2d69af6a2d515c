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
from app.settings import get_settings
from app.signin import oidc, password_links
from app.signin.services import SignInRefused, ask_for_reset, clean_email, sign_in
from app.signin.sessions import end_sessions, start_session
from app.signin.throttle import LoginThrottle, reset_throttle
from app.web.auth import safe_next
from app.web.deps import Viewer
from app.web.forms import read_form
from app.web.security import NO_STORE
from app.web.templating import done, render

NOT_SET_UP = "Company sign-in is not set up."


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

    async def _login_page(
        self,
        request: HTMXRequest,
        next_url: str,
        *,
        email: str = "",
        error: str | None = None,
        company_error: str | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Template:
        settings = get_settings()
        context = {
            "email": email,
            "next": next_url,
            "error": error,
            "company_error": company_error,
            "company_name": settings.oidc.name if settings.oidc else None,
            "password_login": settings.password_login,
        }
        return await render(request, "pages/people/login.html", context, status_code=status_code, headers=headers)

    @get("/login", name="login")
    async def login_page(
        self, request: HTMXRequest, viewer: Viewer, next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if viewer is not None:
            return Redirect(self._next(request, next), status_code=303)
        return await self._login_page(request, self._next(request, next))

    @post("/login", name="login.submit")
    async def login(self, request: HTMXRequest, throttle: NamedDependency[LoginThrottle]) -> Template | Redirect:
        form = await read_form(request, LoginForm)
        next_url = self._next(request, form.next)
        address = request.client.host if request.client else "unknown"
        try:
            user = await sign_in(throttle, form.email, form.password, address)
        except SignInRefused as exc:
            return await self._login_page(
                request,
                next_url,
                email=clean_email(form.email),
                error=exc.message,
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

    def _callback_uri(self, request: HTMXRequest) -> str:
        return get_settings().base_url + request.app.route_reverse("login.company.callback")

    @get("/login/company", name="login.company", cache_control=NO_STORE)
    async def company_start(self, request: HTMXRequest, next: FromQuery[str | None] = None) -> Template | Redirect:
        """Company sign-in (OpenID Connect): off to the issuer, with state, nonce and PKCE verifier kept here. A link,
        not a form: the page's Content-Security-Policy (form-action 'self') stops a form from leading elsewhere."""
        next_url = self._next(request, next)
        settings = get_settings()
        if settings.oidc is None:
            return await self._login_page(request, next_url, company_error=NOT_SET_UP, status_code=400)
        try:
            url, pending = await oidc.begin(settings.oidc, self._callback_uri(request), next_url)
        except SignInRefused as exc:
            return await self._login_page(request, next_url, company_error=exc.message, status_code=exc.status_code)
        request.session[oidc.SESSION_KEY] = pending.to_session()
        return Redirect(url, status_code=303)

    @get("/login/company/callback", name="login.company.callback", cache_control=NO_STORE)
    async def company_callback(self, request: HTMXRequest) -> Template | Redirect:
        """The issuer sends the browser back here: the pending sign-in is used (once), the code exchanged, the ID
        token verified, and the person it names signed in under a new session id. (`state` is a name Litestar
        keeps for itself, so the query is read as it is.)"""
        query = request.query_params
        state, code, error = (str(query.get(name) or "") for name in ("state", "code", "error"))
        settings = get_settings()
        pending = oidc.PendingSignIn.from_session(request.session.pop(oidc.SESSION_KEY, None))
        next_url = pending.next if pending else self._next(request, None)
        if settings.oidc is None:
            return await self._login_page(request, next_url, company_error=NOT_SET_UP, status_code=400)
        try:
            pending = oidc.check_state(pending, state)
            if error or not code:
                raise SignInRefused(f"{settings.oidc.name} did not sign you in. Try again.")
            identity = await oidc.finish(settings.oidc, pending, code, self._callback_uri(request))
            user = await oidc.person_for(settings.oidc, identity)
        except SignInRefused as exc:
            return await self._login_page(request, next_url, company_error=exc.message, status_code=exc.status_code)
        await start_session(request, user)
        return Redirect(pending.next, status_code=303)

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

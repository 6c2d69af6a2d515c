"""The Big List of Naughty Strings (plus NUL bytes) into every text field of every form and API operation:
no answer is a 5xx, and no reflection comes back unescaped.

What is fed is discovered, not listed: the pages are the app's own GET routes (paths filled from the access tests'
`world`, whose route table must equal the app's), the forms and their fields are parsed from those pages as an
admin sees them, every page's query parameters come from its handler's signature, and the API's operations and
their body fields from the OpenAPI schema. The default run feeds a fixed sample of the corpus (under a minute);
`KUDOS_NAUGHTY_FULL=1` feeds all of it. Each test prints its figures (requests sent, 5xx answers).

The corpus is `blns.json` from the npm package big-list-of-naughty-strings 1.0.0 (MIT, corpus/LICENSE-blns).
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from app.api import tokens
from app.main import create_app
from app.people.services import load_current_user
from app.people.tables import Role
from tests.factories import make_employee
from tests.helpers import csrf_token, signed_in
from tests.web.test_access import ROUTES, world  # noqa: F401 — the access tests' route table and world

CORPUS = json.loads((Path(__file__).parent / "corpus" / "blns-1.0.0.json").read_text())
FULL = os.environ.get("KUDOS_NAUGHTY_FULL", "").lower() in {"1", "true", "yes"}
EXTRA = ["\x00", "a\x00b", "<script>alert('kudos')</script>", '"><img src=x onerror=alert(1)>', "x" * 5000]
SAMPLE = 8
STRINGS = EXTRA + (CORPUS if FULL else random.Random(14).sample(CORPUS, SAMPLE))
TAG = re.compile(r"<[A-Za-z!/]")
NOT_FUZZED = {"_csrf_token"}
SKIPPED_ACTIONS = {"/logout"}  # would end the session the run signs in with


@dataclass
class Form:
    method: str
    action: str
    multipart: bool
    fields: dict[str, str] = field(default_factory=dict)  # name → default value
    files: list[str] = field(default_factory=list)
    checked: list[tuple[str, str]] = field(default_factory=list)  # ticked checkboxes and radios


class FormParser(HTMLParser):
    """Every <form> of a page with its fields (inputs, textareas, selects)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = a.get("action") or self.page
            self.current = Form(
                method=(a.get("method") or "get").upper(),
                action=action,
                multipart="multipart" in a.get("enctype", ""),
            )
            self.forms.append(self.current)
        elif self.current is None or not a.get("name"):
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                self.current.files.append(a["name"])
            elif kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self.current.checked.append((a["name"], a.get("value", "on")))
            elif kind not in {"submit", "button", "image", "reset"}:
                self.current.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self.current.fields[a["name"]] = ""
        elif tag == "select":
            self.current.fields.setdefault(a["name"], "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None


def forms_of(path: str, html: str) -> list[Form]:
    parser = FormParser(path.split("?", 1)[0])
    parser.feed(html)
    return [f for f in parser.forms if f.action.startswith("/") and f.action not in SKIPPED_ACTIONS]


@dataclass
class Figures:
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    unescaped: list[str] = field(default_factory=list)

    def check(self, label: str, text: str, response: httpx.Response) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{label} {text[:40]!r} → {response.status_code}")
        elif (
            TAG.search(text)
            and response.headers.get("content-type", "").startswith("text/html")
            and text in response.text
        ):
            self.unescaped.append(f"{label} {text[:40]!r}")

    def report(self, what: str) -> None:
        print(f"\nnaughty strings, {what}: {len(STRINGS)} strings, {self.requests} requests, "
              f"{len(self.server_errors)} 5xx, {len(self.unescaped)} unescaped reflections")  # fmt: skip
        assert not self.server_errors, self.server_errors[:20]
        assert not self.unescaped, self.unescaped[:20]


def get_pages() -> list[str]:
    """The app's GET routes that render pages, with their sample paths (from the access tests' table)."""
    app = create_app(manage_pool=False)
    found = []
    for route in app.routes:
        if "GET" in getattr(route, "methods", ()) and not route.path.startswith(("/static", "/schema", "/api")):
            found.append(route.path)
    missing = [p for p in found if ("GET", p) not in ROUTES]
    assert not missing, f"add these routes to tests/web/test_access.py ROUTES: {missing}"
    return sorted(found)


def query_names(app, route_path: str) -> list[str]:
    """The query parameters a GET route's handler reads (its signature's plain values that are not path params)."""
    route = next(r for r in app.routes if r.path == route_path)
    handler = next(h for h in route.route_handlers if "GET" in h.http_methods)
    path_params = set(re.findall(r"{(\w+):", route_path))
    return [
        name
        for name, definition in handler.parsed_fn_signature.parameters.items()
        if name not in path_params and definition.annotation in (str, int, bool, str | None)
    ]


async def _admin(client_factory) -> httpx.AsyncClient:
    admin = await make_employee("Naughty Admin", email="naughty.admin@example.com", role=Role.ADMIN)
    return await signed_in(await client_factory(), admin.email)


async def _send(client: httpx.AsyncClient, form: Form, values: dict[str, str]) -> httpx.Response:
    data: dict[str, list[str]] = {"_csrf_token": [await csrf_token(client)]} if form.method == "POST" else {}
    for name, value in [*values.items(), *form.checked]:
        data.setdefault(name, []).append(value)
    if form.method == "GET":
        return await client.get(form.action, params=data)
    if form.multipart:
        files = {name: ("naughty.csv", values.get(name, "x").encode("utf-8", "replace")) for name in form.files}
        return await client.post(form.action, data=data, files=files)
    return await client.post(form.action, data=data)


async def _forms(client: httpx.AsyncClient, world: dict, routes: list[str]) -> list[Form]:  # noqa: F811
    """The forms with something to type into on these pages, as `client` sees them."""
    forms: dict[tuple[str, str], Form] = {}
    for route_path in routes:
        path = ROUTES[("GET", route_path)][0].format(**world)
        page = await client.get(path)
        assert page.status_code < 500, path
        for form in forms_of(path, page.text):
            key = (form.method, form.action)
            if key in forms:
                forms[key].fields.update(form.fields)
            else:
                forms[key] = form
    return [f for f in forms.values() if set(f.fields) - NOT_FUZZED or f.files]


async def test_every_form_field_of_every_page(app, client_factory, world) -> None:  # noqa: F811
    figures = Figures()
    # Signed out, the sign-in form and the other public pages, from an address of its own: hundreds of failed
    # sign-ins lock that address (the throttle's ceiling), not the admin's below.
    transport = httpx.ASGITransport(app=app, client=("203.0.113.50", 40000))
    visitor = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    public = [p for p in get_pages() if ROUTES[("GET", p)][1] == "public"]
    async with visitor:
        await _fuzz(visitor, await _forms(visitor, world, public), figures, client_factory)
    client = await _admin(client_factory)
    fuzzed = await _forms(client, world, get_pages())
    assert len(fuzzed) > 20, [f.action for f in fuzzed]  # the pages' forms were found
    await _fuzz(client, fuzzed, figures, client_factory)
    figures.report(f"{len(fuzzed)} forms signed in, the public ones signed out")


async def _fuzz(client: httpx.AsyncClient, fuzzed: list[Form], figures: Figures, client_factory) -> None:
    signed_in_before = "kudos_session" in client.cookies
    for form in fuzzed:
        names = [n for n in form.fields if n not in NOT_FUZZED]
        for text in STRINGS:
            values = {**form.fields, **dict.fromkeys(names, text), **dict.fromkeys(form.files, text)}
            response = await _send(client, form, values)
            figures.check(f"{form.method} {form.action}", text, response)
            if signed_in_before and response.headers.get("location", "").startswith("/login"):
                client = await _admin_again(client_factory)
        for name in names:  # one field at a time, the others as the page filled them: NUL never gets further
            response = await _send(client, form, {**form.fields, name: f"x\x00{form.fields[name]}"})
            figures.check(f"{form.method} {form.action} [{name}]", "\x00", response)


async def _admin_again(client_factory) -> httpx.AsyncClient:
    return await signed_in(await client_factory(), "naughty.admin@example.com")


async def test_every_query_parameter_of_every_page(app, client_factory, world) -> None:  # noqa: F811
    client = await _admin(client_factory)
    figures = Figures()
    for route_path in get_pages():
        path = ROUTES[("GET", route_path)][0].format(**world).split("?", 1)[0]
        for name in query_names(app, route_path):
            for text in STRINGS:
                figures.check(f"GET {route_path}?{name}", text, await client.get(path, params={name: text}))
    for route_path in get_pages():  # the path parameters too
        for param in re.findall(r"{\w+:str}", route_path):
            for text in STRINGS:
                naughty = route_path.replace(param, quote(text, safe="") or "x")
                figures.check(f"GET {route_path}", text, await client.get(re.sub(r"{\w+:int}", "1", naughty)))
    figures.report("query and path parameters")


def _body_fields(app, schema: Any) -> dict[str, Any]:
    components = app.openapi_schema.components.schemas
    if getattr(schema, "ref", None):
        schema = components[schema.ref.rsplit("/", 1)[1]]
    return dict(schema.properties or {})


def _value(definition: Any, text: str) -> Any:
    kind = getattr(definition, "type", None)
    kinds = {str(k.value) if hasattr(k, "value") else str(k) for k in (kind if isinstance(kind, list) else [kind])}
    if "array" in kinds:
        return [text]
    if "integer" in kinds:
        return 1
    if "boolean" in kinds:
        return True
    return text


async def test_every_field_of_every_api_operation(app, client, world) -> None:  # noqa: F811
    admin = await load_current_user((await make_employee(role=Role.ADMIN)).id)
    _, token = await tokens.create_token(admin, name="Naughty", scopes=list(tokens.SCOPES), rate_limit=10_000)
    headers = {"Authorization": f"Bearer {token}"}
    figures = Figures()
    operations = 0
    for path, item in app.openapi_schema.paths.items():
        if item.post and item.post.request_body:
            operations += 1
            fields = _body_fields(app, item.post.request_body.content["application/json"].schema)
            for text in STRINGS:
                body = {name: _value(definition, text) for name, definition in fields.items()}
                figures.check(f"POST {path}", text, await client.post(path, json=body, headers=headers))
                for name in fields:  # one field at a time, so a refusal of another field does not hide it
                    single = {name: _value(fields[name], text)}
                    figures.check(f"POST {path} [{name}]", text, await client.post(path, json=single, headers=headers))
        if item.get:
            operations += 1
            url = path.replace("{person_id}", str(world["person"]))
            for parameter in item.get.parameters or []:
                if parameter.param_in == "query":
                    for text in STRINGS:
                        response = await client.get(url, params={parameter.name: text}, headers=headers)
                        figures.check(f"GET {path}?{parameter.name}", text, response)
    assert operations >= 5
    figures.report(f"{operations} API operations")

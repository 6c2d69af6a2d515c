"""Company sign-in with OpenID Connect: the authorization code flow with PKCE (S256), `state` and `nonce`.

- `begin` reads the issuer's discovery document and returns the authorization address with what the session keeps
  until the callback (`PendingSignIn`: state, nonce, code verifier, where to go afterwards).
- `finish` checks the callback's `state` against the pending sign-in, exchanges the code (with the verifier) at the
  token endpoint, and verifies the ID token: its signature with the issuer's JWKS, then iss, aud (and azp), exp,
  iat and nonce. It returns the `Identity` the token vouches for.
- `person_for` finds the active person with that verified email (or creates one, when just-in-time creation is on)
  and writes the sign-in to the audit log.

Authlib builds the requests (discovery metadata checks, grant URI, PKCE challenge, token request) and joserfc,
Authlib's JOSE library, verifies the token. No HTTP of Kudos's own here: the controller passes the callback address
in and starts the session with the person `person_for` returns.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

import app.db as db
from app.audit.services import record as audit
from app.people.services import CurrentUser, load_current_user, normalise_email
from app.people.tables import Department, Employee
from app.settings import OidcSettings
from app.signin.services import EMAIL_MAX, SignInRefused
from app.timeutil import now

HTTP_TIMEOUT = 10.0
LEEWAY_SECONDS = 60  # clock difference tolerated between Kudos and the issuer
DISCOVERY_MAX_AGE = 3600.0
SESSION_KEY = "oidc"

START_AGAIN = "This sign-in was not started here, or it was already used. Start again from the sign-in page."
DEACTIVATED = "Your Kudos account is deactivated. Ask an administrator."
FAILED = "Signing in with {name} did not work. Try again, or ask your administrator if it keeps failing."

_metadata: dict[str, tuple[float, OpenIDProviderMetadata]] = {}


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """What the session holds between the redirect to the issuer and the callback."""

    state: str
    nonce: str
    code_verifier: str
    next: str

    def to_session(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_session(cls, value: object) -> PendingSignIn | None:
        if not isinstance(value, dict):
            return None
        try:
            return cls(**{name: str(value[name]) for name in ("state", "nonce", "code_verifier", "next")})
        except KeyError:
            return None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the ID token says signed in."""

    subject: str
    email: str
    email_verified: bool
    name: str
    department: str
    title: str


def _refused(oidc: OidcSettings, status_code: int = 502) -> SignInRefused:
    return SignInRefused(FAILED.format(name=oidc.name), status_code=status_code)


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    return response.json()


async def _discover(client: httpx.AsyncClient, oidc: OidcSettings) -> OpenIDProviderMetadata:
    """The issuer's discovery document, checked (Authlib's rules) and kept for an hour."""
    cached = _metadata.get(oidc.issuer)
    if cached and time.monotonic() - cached[0] < DISCOVERY_MAX_AGE:
        return cached[1]
    metadata = OpenIDProviderMetadata(await _get_json(client, get_well_known_url(oidc.issuer, external=True)))
    metadata.validate()
    if metadata["issuer"].rstrip("/") != oidc.issuer:
        raise ValueError(f"the discovery document names issuer {metadata['issuer']!r}, not {oidc.issuer!r}")
    _metadata[oidc.issuer] = (time.monotonic(), metadata)
    return metadata


async def begin(oidc: OidcSettings, redirect_uri: str, next_url: str) -> tuple[str, PendingSignIn]:
    """The issuer's authorization address to send the browser to, and what the session keeps until it returns."""
    pending = PendingSignIn(
        state=generate_token(32), nonce=generate_token(32), code_verifier=generate_token(64), next=next_url
    )
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            metadata = await _discover(client, oidc)
    except (httpx.HTTPError, ValueError) as exc:
        raise _refused(oidc) from exc
    url = prepare_grant_uri(
        metadata["authorization_endpoint"],
        oidc.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=oidc.scopes,
        state=pending.state,
        nonce=pending.nonce,
        code_challenge=create_s256_code_challenge(pending.code_verifier),
        code_challenge_method="S256",
    )
    return str(url), pending


def check_state(pending: PendingSignIn | None, state: str) -> PendingSignIn:
    """The pending sign-in this callback answers; refused when the session has none or the state differs."""
    if pending is None or not hmac.compare_digest(pending.state.encode(), state.encode()):
        raise SignInRefused(START_AGAIN)
    return pending


def _verify(oidc: OidcSettings, metadata: OpenIDProviderMetadata, keys: KeySet, id_token: str, nonce: str) -> Any:
    # the issuer's asymmetric algorithms only: its JWKS holds public keys (never "none", never a shared secret)
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in offered if alg[:2] in {"RS", "PS", "ES", "Ed"}]
    token = jwt.decode(id_token, keys, algorithms=algorithms)
    claims = token.claims
    jwt.JWTClaimsRegistry(
        now=lambda: int(now().timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": oidc.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != oidc.client_id:
        raise ValueError("the ID token was issued to another party (azp)")
    return claims


async def finish(oidc: OidcSettings, pending: PendingSignIn, code: str, redirect_uri: str) -> Identity:
    """Exchange the callback's code for tokens and verify the ID token; the person it names, as an `Identity`."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        try:
            metadata = await _discover(client, oidc)
            body = prepare_token_request(
                "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=pending.code_verifier
            )
            response = await client.post(
                metadata["token_endpoint"],
                content=body,
                auth=(oidc.client_id, oidc.client_secret),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            )
            if response.status_code >= 400:  # a used or expired code, a wrong verifier: the issuer refuses it
                raise _refused(oidc, status_code=400)
            id_token = response.json().get("id_token")
            if not isinstance(id_token, str):
                raise ValueError("the token response has no ID token")
            keys = KeySet.import_key_set(await _get_json(client, metadata["jwks_uri"]))
            claims = _verify(oidc, metadata, keys, id_token, pending.nonce)
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise _refused(oidc, status_code=400) from exc

    def text(name: str, limit: int) -> str:
        """A claim's text, as a column holds it (PostgreSQL text has no NUL)."""
        value = claims.get(name) if name else None
        return value.replace("\x00", "").strip()[:limit] if isinstance(value, str) else ""

    return Identity(
        subject=str(claims["sub"]),
        email=normalise_email(text("email", EMAIL_MAX)),
        email_verified=claims.get("email_verified") in (True, "true"),  # some issuers send it as a string
        name=text("name", 160),
        department=text(oidc.department_claim, 120),
        title=text(oidc.title_claim, 160),
    )


_DEPARTMENT_SQL = "SELECT id FROM department WHERE archived_at IS NULL AND lower(name) = lower({}) ORDER BY id LIMIT 1"


async def _department_named(name: str) -> int | None:
    """The current department called `name` (ignoring case), if there is one."""
    if not name:
        return None
    rows = await Department.raw(_DEPARTMENT_SQL, name)
    return rows[0]["id"] if rows else None


async def _create_person(identity: Identity) -> int:
    row = Employee(
        name=identity.name or identity.email.split("@")[0],
        email=identity.email,
        title=identity.title,
        department=await _department_named(identity.department),
        created_at=now(),
    )
    await row.save()
    await audit(
        actor_id=None,
        action="person.create",
        target_type="employee",
        target_id=row.id,
        summary=f"Added {row.name} <{row.email}> at their first company sign-in",
        after={"name": row.name, "email": row.email, "title": row.title, "department": row.department},
    )
    return int(row.id)


async def person_for(oidc: OidcSettings, identity: Identity) -> CurrentUser:
    """The active person this verified identity signs in as (created first when just-in-time creation is on and
    no one has the email); the sign-in is in the audit log."""
    if not identity.email or not identity.email_verified:
        raise SignInRefused(
            f"{oidc.name} did not confirm your email address is verified, so Kudos cannot tell who you are. "
            "Ask your administrator.",
            status_code=403,
        )
    async with db.transaction():
        row = await Employee.select(Employee.id, Employee.active).where(Employee.email == identity.email).first()
        if row is None:
            if not oidc.create_people:
                raise SignInRefused(
                    f"No one in Kudos has the email {identity.email}. Ask an administrator to add you.",
                    status_code=403,
                )
            employee_id = await _create_person(identity)
        else:
            employee_id = row["id"]
        user = await load_current_user(employee_id)
        if user is None:
            raise SignInRefused(DEACTIVATED, status_code=403)
        await audit(
            actor_id=user.id,
            action="signin.oidc",
            target_type="employee",
            target_id=user.id,
            summary=f"Signed in with {oidc.name}",
            after={"subject": identity.subject},
        )
    return user

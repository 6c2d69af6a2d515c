"""Signing in, in one place: who may sign in, how often they may try, and what signing in and out does.

- `services.sign_in` — the password sign-in policy: the throttle's verdict, then `authenticate`, then the
  throttle's counters. Returns the person or raises `SignInRefused` (message, status, Retry-After).
- `sessions` — `start_session` (a new session id for the person: every way of signing in ends here),
  `end_sessions` (sign a person out everywhere), and the Redis-backed session middleware's configuration.
- `throttle.LoginThrottle` — failed attempts counted in Redis, per email/address pair, per email and per address.
- `password_links` — one-time links an admin makes so a person can set their password.
- `oidc` — company sign-in with OpenID Connect: the code flow with PKCE, the ID token's verification, and the
  person a verified email signs in as (created just in time when the operator allows it).
- `controllers` — HTTP: `/login`, `/login/company` (and its callback), `/logout` and `/password/{token}`.

Another way of signing in (Slack) adds a route to `controllers` that verifies the provider's answer, finds the
active person, and calls `sessions.start_session`, as company sign-in does.
"""

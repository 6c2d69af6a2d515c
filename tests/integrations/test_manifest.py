"""The Slack app manifest in the repository points at Kudos's own routes and asks for the scopes Kudos uses."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "integrations" / "slack" / "manifest.yml"


def test_the_manifest_names_the_routes_and_scopes_kudos_uses(app) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/kudos" and command["should_escape"] is True
    assert urlsplit(command["url"]).path == app.route_reverse("slack.commands")
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] and urlsplit(interactivity["request_url"]).path == app.route_reverse(
        "slack.interactivity"
    )
    assert urlsplit(command["url"]).hostname == "kudos.example.com"  # a placeholder host, replaced by the admin
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "im:write",
        "users:read",
        "users:read.email",
    }

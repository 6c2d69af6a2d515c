"""Teams: the outgoing webhook (“@Kudos thank @Ana …”) verified by the HMAC Teams sends, people matched by name
or email, and the same give rules as the web form."""

from __future__ import annotations

import json

import pytest

from app.integrations import teams
from app.integrations.tables import ChatSettings
from app.kudos.tables import Kudos, KudosRecipient
from app.web.edge import NUL_MESSAGE
from tests.factories import make_employee
from tests.integrations.conftest import TEAMS_TOKEN, teams_auth

OUTGOING = "/integrations/teams/outgoing"
pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
async def teams_on(org) -> None:
    await ChatSettings.insert(ChatSettings(id=1, teams_token=TEAMS_TOKEN))


def activity(text: str, *, sender: str = "Gina Giver", activity_id: str = "1485983408511") -> bytes:
    mentions = [name for name in ("Kudos", "Ana Silva", "Ravi Patel", "Nobody Here") if f"<at>{name}</at>" in text]
    return json.dumps(
        {
            "type": "message",
            "id": activity_id,
            "text": text,
            "from": {"id": "29:1abc", "name": sender, "aadObjectId": "6f5b9f4a-0000-0000-0000-000000000001"},
            "recipient": {"id": "28:kudos-bot", "name": "Kudos"},
            "entities": [
                {"type": "mention", "mentioned": {"id": f"29:{n}", "name": n}, "text": f"<at>{n}</at>"}
                for n in mentions
            ],
        }
    ).encode()


async def send(client, body: bytes, **headers):
    return await client.post(OUTGOING, content=body, headers={**teams_auth(body), **headers})


async def test_a_signed_message_gives_a_kudos_once(client, org, teams_on) -> None:
    body = activity("<at>Kudos</at> thank <at>Ana Silva</at> <at>Ravi Patel</at> +5 #teamwork for fixing the VPN")
    response = await send(client, body)
    assert response.status_code == 200
    assert response.json() == {
        "type": "message",
        "text": "Thanked Ana Silva, Ravi Patel. [View kudos](http://testserver/kudos/1)",
    }
    [row] = await Kudos.select(Kudos.giver, Kudos.message, Kudos.points)
    assert row == {"giver": org["gina"].id, "message": "for fixing the VPN", "points": 5}
    assert len(await KudosRecipient.select()) == 2
    again = await send(client, body)  # Teams sent it again: the activity id gives once
    assert again.status_code == 200
    assert len(await Kudos.select()) == 1


async def test_a_bad_or_missing_hmac_is_refused_and_changes_nothing(client, org, teams_on) -> None:
    body = activity("<at>Kudos</at> thank <at>Ana Silva</at> for the VPN")
    other_token = "b3RoZXItdG9rZW4="
    for headers in (teams_auth(body, other_token), {"Authorization": "HMAC not-base64"}, {}):
        response = await client.post(OUTGOING, content=body, headers=headers)
        assert response.status_code == 401
    tampered = body.replace(b"the VPN", b"the VPM")
    response = await client.post(OUTGOING, content=tampered, headers=teams_auth(body))
    assert response.status_code == 401
    assert await Kudos.select() == []


async def test_before_set_up_every_request_is_refused(client, org) -> None:
    body = activity("<at>Kudos</at> thank <at>Ana Silva</at> for the VPN")
    response = await send(client, body)
    assert response.status_code == 401
    assert response.json()["error"] == teams.NOT_SET_UP


@pytest.mark.parametrize(
    ("text", "sender", "answer"),
    [
        (
            "<at>Kudos</at> thank <at>Ana Silva</at>",
            "Gina Giver",
            "Kudos could not give that: Write a message to say what they did.",
        ),
        (
            "<at>Kudos</at> thank <at>Gina Giver</at> for me",
            "Gina Giver",
            "Kudos could not give that: You can't give kudos to yourself.",
        ),
        ("<at>Kudos</at> thank <at>Nobody Here</at> for it", "Gina Giver", "Kudos knows no one called Nobody Here."),
        (
            "<at>Kudos</at> thank <at>Ana Silva</at> for it",
            "Someone *Else*",
            "Kudos knows no one called Someone \\*Else\\* (the sender)",
        ),
        (
            "<at>Kudos</at> thank nobody@example.com for it",
            "Gina Giver",
            "1 of the people you chose is not in the directory.",
        ),
    ],
)
async def test_refusals_answer_with_the_forms_messages(client, org, teams_on, text, sender, answer) -> None:
    response = await send(client, activity(text, sender=sender))
    assert response.status_code == 200
    assert answer in response.json()["text"]
    assert await Kudos.select() == []


async def test_a_shared_name_asks_for_an_email_which_then_matches(client, org, teams_on) -> None:
    await make_employee("Ana Silva", email="ana.silva2@example.com", department=org["it"])
    response = await send(client, activity("<at>Kudos</at> thank <at>Ana Silva</at> for the VPN"))
    assert response.json()["text"].startswith("2 people in Kudos are called Ana Silva: write their email instead")
    assert await Kudos.select() == []
    by_email = await send(client, activity("<at>Kudos</at> thanks ANA@example.com for the VPN", activity_id="2"))
    assert by_email.json()["text"].startswith("Thanked Ana Silva.")
    [recipient] = await KudosRecipient.select(KudosRecipient.employee)
    assert recipient["employee"] == org["ana"].id


async def test_a_body_that_is_not_a_message_is_a_clear_400(client, org, teams_on) -> None:
    for body in (b"not json", b"[1, 2]"):
        response = await send(client, body)
        assert response.status_code == 400
        assert response.json()["text"] == "Kudos could not read that message."


async def test_nul_and_odd_shapes_are_refused_without_a_500(client, org, teams_on) -> None:
    response = await send(client, activity("<at>Kudos</at> thank <at>Ana Silva</at> for the VPN\x00"))
    assert response.status_code == 400 and response.json()["text"] == NUL_MESSAGE
    odd = json.dumps({"type": "message", "id": 5, "text": ["x"], "from": "Gina", "recipient": 3}).encode()
    response = await send(client, odd)
    assert response.status_code == 200
    assert response.json()["text"] == "Teams did not say who sent the message."
    assert await Kudos.select() == []


async def test_deeply_nested_json_is_a_400_not_a_500(client, org, teams_on) -> None:
    for depth in (50_000, 900):
        body = b'{"a":' * depth + b"1" + b"}" * depth
        response = await send(client, body)
        assert response.status_code in {200, 400}, depth
    assert await Kudos.select() == []

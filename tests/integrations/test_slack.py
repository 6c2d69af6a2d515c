"""Slack: signed requests only, the /kudos command (given at once, or the modal), the modal's submission, and the
posts and direct messages the worker sends — Slack's Web API played by a loopback recorder."""

from __future__ import annotations

import json
import time

import pytest

from app.integrations import controllers, deliveries, slack
from app.integrations.tables import ChatDelivery
from app.kudos.tables import Kudos, KudosRecipient, KudosValue
from app.web.edge import NUL_MESSAGE
from tests.integrations.conftest import BOT_TOKEN, command, slack_post

COMMANDS = "/integrations/slack/commands"
INTERACTIVITY = "/integrations/slack/interactivity"
pytestmark = pytest.mark.usefixtures("db")


async def kudos_rows() -> list[dict]:
    return await Kudos.select(Kudos.id, Kudos.giver, Kudos.message, Kudos.points, Kudos.visibility)


async def test_a_command_with_text_gives_one_kudos_through_the_give_rules(client, org, slack_on) -> None:
    response = await slack_post(
        client, COMMANDS, command("<@UANA|ana> <@URAVI> +5 #teamwork Thanks for fixing the VPN & more")
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("You thanked Ana Silva, Ravi Patel. You have 90 of 100 points left")
    assert "<http://testserver/kudos/1|View kudos>" in answer["text"]
    [row] = await kudos_rows()
    assert (row["giver"], row["message"], row["points"], row["visibility"]) == (
        org["gina"].id,
        "Thanks for fixing the VPN & more",
        5,
        "public",
    )
    recipients = await KudosRecipient.select(KudosRecipient.employee).order_by(KudosRecipient.id)
    assert [r["employee"] for r in recipients] == [org["ana"].id, org["ravi"].id]
    assert len(await KudosValue.select()) == 1
    # people were matched by their Slack profile's email (case-insensitively), asked with the bot token
    assert sorted(f["user"] for f in slack_on.called("users.info")) == ["UANA", "UGINA", "URAVI"]
    assert {token for _, _, token in slack_on.calls} == {f"Bearer {BOT_TOKEN}"}


async def test_slack_sending_the_same_command_again_gives_once(client, org, slack_on) -> None:
    first = await slack_post(client, COMMANDS, command("<@UANA> Thanks!"))
    again = await slack_post(client, COMMANDS, command("<@UANA> Thanks!"))
    assert first.status_code == again.status_code == 200
    assert "(given already: this request came twice)" in again.json()["text"]
    assert len(await kudos_rows()) == 1
    other = await slack_post(client, COMMANDS, command("<@UANA> Thanks!", trigger="another.trigger"))
    assert "You thanked Ana Silva." in other.json()["text"]
    assert len(await kudos_rows()) == 2


@pytest.mark.parametrize(
    ("secret", "skew", "why"),
    [
        ("not-the-secret", 0, "does not match"),
        (None, -6 * 60, "more than five minutes old"),
        (None, 6 * 60, "more than five minutes old"),
    ],
)
async def test_an_unsigned_or_stale_request_is_refused_and_changes_nothing(
    client, org, slack_on, secret, skew, why
) -> None:
    signing = {"at": int(time.time()) + skew, **({"secret": secret} if secret else {})}  # the clock read now
    for path, fields in (
        (COMMANDS, command("<@UANA> Thanks!")),
        (COMMANDS, command("")),
        (INTERACTIVITY, {"payload": "{}"}),
    ):
        response = await slack_post(client, path, fields, **signing)
        assert response.status_code == 401
        assert why in response.json()["error"]
    assert await kudos_rows() == []
    assert slack_on.calls == []


async def test_a_request_without_slack_headers_or_before_set_up_is_refused(client, org, slack_web) -> None:
    response = await slack_post(client, COMMANDS, command("<@UANA> Thanks!"))
    assert response.status_code == 401
    assert response.json()["error"] == slack.NOT_SET_UP
    bare = await client.post(COMMANDS, data=command("<@UANA> Thanks!"))
    assert bare.status_code == 401
    assert await kudos_rows() == []


@pytest.mark.parametrize(
    ("text", "user", "message"),
    [
        ("<@UANA>", "UGINA", "Write a message to say what they did."),
        ("<@UGINA> Thanks me", "UGINA", "You can't give kudos to yourself."),
        ("<@UNOBODY> Thanks", "UGINA", "1 of the people you chose is not in the directory."),
        ("<@UANA> #nosuchvalue Thanks", "UGINA", "Pick company values from the list."),
        ("<@UANA> +5000 Thanks", "UGINA", "At most 50 points per person per kudos."),
        ("Thanks everyone", "UGINA", "Choose at least one person to thank."),
        ("<@UANA> Thanks", "UNOBODY", "Kudos does not know your Slack email (x@else.org)"),
    ],
)
async def test_refusals_are_answered_ephemerally_with_the_forms_messages(
    client, org, slack_on, text, user, message
) -> None:
    response = await slack_post(client, COMMANDS, command(text, user=user))
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert message in response.json()["text"]
    assert await kudos_rows() == []


async def test_a_bare_command_opens_the_give_modal(client, org, slack_on) -> None:
    response = await slack_post(client, COMMANDS, command("  ", trigger="trigger.for.modal"))
    assert response.status_code == 200
    [opened] = slack_on.called("views.open")
    assert opened["trigger_id"] == "trigger.for.modal"
    view = json.loads(opened["view"])
    assert view["type"] == "modal" and view["callback_id"] == slack.MODAL_CALLBACK
    assert [b["block_id"] for b in view["blocks"]] == ["recipients", "message", "points", "values", "visibility"]
    values = view["blocks"][3]["element"]["options"]
    assert [o["text"]["text"] for o in values] == ["Teamwork", "Customer first"]
    assert await kudos_rows() == []


def submission(
    view_id: str = "V123", *, users=("UANA",), message="Great demo", points="3", values=(), visibility="private"
) -> dict:
    state = {
        "recipients": {"recipients": {"type": "multi_users_select", "selected_users": list(users)}},
        "message": {"message": {"type": "plain_text_input", "value": message}},
        "points": {"points": {"type": "number_input", "value": points}},
        "values": {"values": {"type": "multi_static_select", "selected_options": [{"value": v} for v in values]}},
        "visibility": {"visibility": {"type": "radio_buttons", "selected_option": {"value": visibility}}},
    }
    payload = {
        "type": "view_submission",
        "user": {"id": "UGINA"},
        "trigger_id": "t.1",
        "view": {"id": view_id, "callback_id": slack.MODAL_CALLBACK, "state": {"values": state}},
    }
    return {"payload": json.dumps(payload)}


async def test_the_modal_submission_gives_the_kudos_and_clears(client, org, slack_on) -> None:
    response = await slack_post(client, INTERACTIVITY, submission(values=("1",)))
    assert response.json() == {"response_action": "clear"}
    [row] = await kudos_rows()
    assert (row["message"], row["points"], row["visibility"]) == ("Great demo", 3, "private")
    again = await slack_post(client, INTERACTIVITY, submission(values=("1",)))
    assert again.json() == {"response_action": "clear"}
    assert len(await kudos_rows()) == 1  # the same view submitted twice gives once


async def test_the_modal_answers_the_forms_messages_on_its_fields(client, org, slack_on) -> None:
    response = await slack_post(client, INTERACTIVITY, submission(users=(), message=" ", points="-1", visibility="x"))
    assert response.json() == {
        "response_action": "errors",
        "errors": {
            "recipients": "Choose at least one person to thank.",
            "message": "Write a message to say what they did.",
            "points": "Points can't be negative.",
            "visibility": "Choose public or private.",
        },
    }
    assert await kudos_rows() == []
    other = await slack_post(client, INTERACTIVITY, {"payload": json.dumps({"type": "block_actions"})})
    assert other.status_code == 200 and other.json() == {}
    broken = await slack_post(client, INTERACTIVITY, {"payload": "{not json"})
    assert broken.status_code == 200 and broken.json() == {}


async def test_a_slow_give_is_answered_in_time_then_given_by_the_worker_and_answered_at_the_response_url(
    client, org, slack_on, monkeypatch, receiver, run_worker
) -> None:
    monkeypatch.setattr(controllers, "SLACK_BUDGET", 0.05)
    monkeypatch.setattr(deliveries, "RESPONSE_URL_HOST", "127.0.0.1")
    slack_on.delay = 0.2  # Slack's users.info is slow today
    fields = {**command("<@UANA> Thanks!"), "response_url": receiver.url}
    response = await slack_post(client, COMMANDS, fields)
    assert response.json()["text"] == "Kudos is working on it; the answer follows in a moment."
    assert await kudos_rows() == []  # the web request gave up in time; the worker has it
    [row] = await ChatDelivery.select(ChatDelivery.kind, ChatDelivery.target, ChatDelivery.body)
    assert (row["kind"], row["target"]) == ("slack.command", receiver.url)
    assert json.loads(row["body"]) == {
        "text": "<@UANA> Thanks!",
        "user_id": "UGINA",
        "trigger_id": fields["trigger_id"],
        "team_id": "T1",
    }
    await run_worker()
    [(_, body)] = receiver.received
    assert json.loads(body)["text"].startswith("You thanked Ana Silva.")
    assert len(await kudos_rows()) == 1
    # a response_url elsewhere than Slack's never gets an answer
    await slack_post(client, COMMANDS, {**fields, "trigger_id": "2", "response_url": "https://evil.example/x"})
    await run_worker()
    refused = (
        await ChatDelivery.select(ChatDelivery.status, ChatDelivery.last_error)
        .where(ChatDelivery.target == "https://evil.example/x")
        .first()
    )
    assert refused == {"status": "failed", "last_error": "The command's response_url is not on 127.0.0.1."}
    assert len(receiver.received) == 1 and len(await kudos_rows()) == 1


async def test_nul_and_malformed_payloads_are_refused_without_a_500(client, org, slack_on) -> None:
    nul = await slack_post(client, INTERACTIVITY, submission(message="Thanks\x00"))
    assert nul.json() == {"response_action": "errors", "errors": {"message": NUL_MESSAGE}}
    in_command = await slack_post(client, COMMANDS, command("<@UANA> Thanks\x00"))
    assert in_command.status_code == 400  # the form's NUL check (app/web/edge.py), before anything is read
    odd = {
        "type": "view_submission",
        "user": "UGINA",
        "view": {"callback_id": slack.MODAL_CALLBACK, "state": {"values": {"recipients": ["x"], "values": 3}}},
    }
    response = await slack_post(client, INTERACTIVITY, {"payload": json.dumps(odd)})
    assert response.status_code == 200
    assert response.json()["response_action"] == "errors"
    for shape in ([], "text", {"type": "view_submission", "view": []}):
        response = await slack_post(client, INTERACTIVITY, {"payload": json.dumps(shape)})
        assert response.status_code == 200 and response.json() == {}
    huge = submission(values=("99999999999999",))
    response = await slack_post(client, INTERACTIVITY, huge)
    assert response.json()["errors"] == {"values": "Pick company values from the list."}
    assert await kudos_rows() == []

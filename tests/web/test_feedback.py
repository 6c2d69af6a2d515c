"""The feedback pages: full pages and HTMX fragments, the forms without JS, bad input next to its field, denials."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.feedback import models, services
from app.feedback.models import AskInput, GiveInput
from app.feedback.tables import Feedback, FeedbackAsk
from app.people.services import load_current_user
from app.people.tables import Role
from tests.factories import make_department, make_employee
from tests.helpers import HTMX, post_form, signed_in


@pytest.fixture
async def org():
    it = await make_department("IT", slug="it")
    boss = await make_employee("Bea Boss", email="bea@example.com", department=it, role=Role.MANAGER)
    ann = await make_employee("Ann Asker", email="ann@example.com", department=it, manager=boss)
    bob = await make_employee("Bob Answer", email="bob@example.com", department=it)
    cat = await make_employee("Cat Colleague", email="cat@example.com", department=it)
    admin = await make_employee("Ada Admin", email="ada@example.com", role=Role.ADMIN)
    return {"it": it, "boss": boss, "ann": ann, "bob": bob, "cat": cat, "admin": admin}


async def as_(client_factory, who):
    return await signed_in(await client_factory(), who.email)


def due() -> str:
    return (models.today() + timedelta(days=5)).isoformat()


async def make_ask(asker, *people) -> int:
    actor = await load_current_user(asker.id)
    data = AskInput(people=tuple(p.id for p in people), template="went-well", due_on=models.today() + timedelta(days=5))
    return await services.ask_for_feedback(actor, data)


async def test_feedback_pages_render(client_factory, org) -> None:
    client = await as_(client_factory, org["ann"])
    page = await client.get("/feedback")
    assert page.status_code == 200 and "Waiting for your answer" in page.text
    assert 'href="/feedback" aria-current="page"' in page.text
    ask = await client.get("/feedback/ask?q=Bob")
    assert ask.status_code == 200 and "Bob Answer" in ask.text and 'name="people"' in ask.text
    fragment = await client.get("/feedback/ask?q=Cat&people=" + str(org["bob"].id), headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Cat Colleague" in fragment.text and f'value="{org["bob"].id}" checked' in fragment.text
    give = await client.get(f"/feedback/give?to={org['bob'].id}")
    assert give.status_code == 200 and f'value="{org["bob"].id}" checked' in give.text


async def test_ask_then_answer_without_js(client_factory, org) -> None:
    ann = await as_(client_factory, org["ann"])
    response = await post_form(
        ann,
        "/feedback/ask",
        {"people": str(org["bob"].id), "template": "start-stop-continue", "due_on": due(), "subject_kind": "none"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/feedback"
    ask_id = (await FeedbackAsk.select(FeedbackAsk.id).first())["id"]
    bob = await as_(client_factory, org["bob"])
    page = await bob.get(f"/feedback/asks/{ask_id}")
    assert page.status_code == 200 and "What should I stop doing?" in page.text
    bad = await post_form(bob, f"/feedback/asks/{ask_id}/answer", {"answer": ["Start", "", "Continue"]})
    assert bad.status_code == 422
    assert 'id="feedback-answer-1-error"' in bad.text and "Write between 1 and 2,000 characters." in bad.text
    assert ">Start</textarea>" in bad.text  # the input is kept
    assert await Feedback.count() == 0
    done = await post_form(bob, f"/feedback/asks/{ask_id}/answer", {"answer": ["Start", "Stop", "Continue"]})
    assert done.status_code == 303
    feedback_id = (await Feedback.select(Feedback.id).first())["id"]
    assert done.headers["location"] == f"/feedback/{feedback_id}"
    read = await ann.get(f"/feedback/{feedback_id}")
    assert read.status_code == 200 and "Continue" in read.text and "not shared with the manager" in read.text
    again = await post_form(bob, f"/feedback/asks/{ask_id}/answer", {"answer": ["a", "b", "c"]})
    assert again.status_code == 409 and "already answered" in again.text


async def test_ask_with_htmx_shows_errors_next_to_fields(client_factory, org) -> None:
    ann = await as_(client_factory, org["ann"])
    response = await post_form(
        ann, "/feedback/ask", {"people": str(org["ann"].id), "template": "", "due_on": ""}, headers=HTMX
    )
    assert response.status_code == 422 and "<html" not in response.text
    assert 'id="ask-people-error"' in response.text and "You cannot ask yourself for feedback." in response.text
    assert 'id="ask-questions-error"' in response.text and 'id="ask-due_on-error"' in response.text
    assert await FeedbackAsk.count() == 0
    ok = await post_form(
        ann, "/feedback/ask", {"people": str(org["bob"].id), "template": "went-well", "due_on": due()}, headers=HTMX
    )
    assert ok.status_code == 200 and ok.headers["hx-redirect"] == "/feedback"


async def test_give_and_the_privacy_of_reading(client_factory, org) -> None:
    bob = await as_(client_factory, org["bob"])
    refused = await post_form(bob, "/feedback/give", {"subject": str(org["ann"].id), "text": " "}, headers=HTMX)
    assert refused.status_code == 422 and 'id="give-text-error"' in refused.text
    response = await post_form(bob, "/feedback/give", {"subject": str(org["ann"].id), "text": "Kind <b>words</b>"})
    assert response.status_code == 303
    feedback_id = (await Feedback.select(Feedback.id).first())["id"]
    ann = await as_(client_factory, org["ann"])
    page = await ann.get(f"/feedback/{feedback_id}")
    assert "Kind &lt;b&gt;words&lt;/b&gt;" in page.text
    for outsider in ("cat", "boss", "admin"):
        client = await as_(client_factory, org[outsider])
        assert (await client.get(f"/feedback/{feedback_id}")).status_code == 404
        assert "Kind" not in (await client.get("/feedback")).text
    admin_page = await (await as_(client_factory, org["admin"])).get("/feedback")
    assert "1 feedback items (1 unprompted)" in admin_page.text


async def test_answer_page_denials(client_factory, org) -> None:
    ask_id = await make_ask(org["ann"], org["bob"])
    cat = await as_(client_factory, org["cat"])
    assert (await cat.get(f"/feedback/asks/{ask_id}")).status_code == 403
    assert (await post_form(cat, f"/feedback/asks/{ask_id}/answer", {"answer": ["a", "b"]})).status_code == 403
    assert (await post_form(cat, f"/feedback/asks/{ask_id}/decline")).status_code == 403
    assert (await post_form(cat, f"/feedback/asks/{ask_id}/close")).status_code == 404
    assert (await cat.get("/feedback/asks/99999")).status_code == 404
    assert await Feedback.count() == 0
    signed_out = await client_factory()
    assert (await signed_out.get("/feedback")).status_code in (302, 303)


async def test_decline_and_close(client_factory, org) -> None:
    ask_id = await make_ask(org["ann"], org["bob"], org["cat"])
    bob = await as_(client_factory, org["bob"])
    assert (await post_form(bob, f"/feedback/asks/{ask_id}/decline")).status_code == 303
    ann = await as_(client_factory, org["ann"])
    assert "Bob Answer: declined" in (await ann.get("/feedback")).text
    assert (await post_form(ann, f"/feedback/asks/{ask_id}/close")).status_code == 303
    cat = await as_(client_factory, org["cat"])
    page = await cat.get(f"/feedback/asks/{ask_id}")
    assert "This request for feedback is closed" in page.text
    late = await post_form(cat, f"/feedback/asks/{ask_id}/answer", {"answer": ["a", "b"]})
    assert late.status_code == 409 and "closed" in late.text


async def test_manager_sees_counts_and_shared_text_only(client_factory, org) -> None:
    bob = await load_current_user(org["bob"].id)
    await services.give(bob, GiveInput(subject=org["ann"].id, text="Private note"))
    await services.give(bob, GiveInput(subject=org["ann"].id, text="Shared note", share_with_manager=True))
    page = await (await as_(client_factory, org["boss"])).get("/feedback")
    assert "<td>Ann Asker</td><td>2</td><td>0</td>" in page.text
    assert "Shared note" in page.text and "Private note" not in page.text

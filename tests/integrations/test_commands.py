"""Reading a chat command's text: people, points, values, then the message (pure: no database)."""

from __future__ import annotations

import pytest

from app.integrations.commands import Command, parse, part
from app.integrations.teams import markdown_escape, read


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<@U1|ana> <@W2> +10 #teamwork Thanks for fixing the VPN",
            Command(("U1", "W2"), (), "10", ("teamwork",), "Thanks for fixing the VPN"),
        ),
        (
            "<#C9|customer-first> <mailto:ravi@example.com|ravi@example.com> +3 +4 fixed &lt;it&gt; &amp; more",
            Command((), ("ravi@example.com",), "3", ("customer-first",), "+4 fixed <it> & more"),
        ),
        ("  Thanks <@U1> for it ", Command((), (), None, (), "Thanks <@U1> for it")),  # people come first
        ("<@U1> <@U1> ok", Command(("U1",), (), None, (), "ok")),
        ("", Command((), (), None, (), "")),
    ],
)
def test_leading_people_points_and_values_then_the_message(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_part_reads_nested_objects_of_any_shape() -> None:
    assert part({"a": {"b": {"c": 1}}}, "a", "b") == {"c": 1}
    assert part({"a": ["b"]}, "a") == {} and part("text", "a") == {} and part({"a": {"b": 2}}, "a", "b") == {}


def test_a_teams_message_is_read_without_its_mentions_and_markup() -> None:
    activity = read(
        {
            "id": "9",
            "text": "<at>Kudos</at> thank <at>Ana Silva</at>&nbsp;<at>Ravi</at> for <b>the</b> VPN &amp; more",
            "from": {"name": "Gina Giver"},
            "recipient": {"name": "Kudos"},
        }
    )
    assert (activity.id, activity.sender, activity.mentioned) == ("9", "Gina Giver", ("Ana Silva", "Ravi"))
    assert activity.text == "thank for the VPN & more"


def test_teams_replies_escape_markdown() -> None:
    assert markdown_escape("[x](https://evil.example) **b** `c` <i>_u_") == (
        "\\[x\\](https://evil.example) \\*\\*b\\*\\* \\`c\\` \\<i\\>\\_u\\_"
    )

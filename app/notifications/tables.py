"""In-app notifications (SPEC F12)."""

from enum import StrEnum

from piccolo.columns import ForeignKey, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.people.tables import Employee


class Kind(StrEnum):
    KUDOS_RECEIVED = "kudos_received"
    ADDON_RECEIVED = "addon_received"
    REQUEST_COMPLETED = "request_completed"
    REQUEST_ASSIGNED = "request_assigned"
    BADGE_EARNED = "badge_earned"
    AWARD_WON = "award_won"
    NOMINATION_REMINDER = "nomination_reminder"
    AWARD_REVIEW = "award_review"
    FEEDBACK_REQUESTED = "feedback_requested"
    FEEDBACK_RECEIVED = "feedback_received"
    FEEDBACK_DECLINED = "feedback_declined"
    SURVEY_OPEN = "survey_open"
    SURVEY_REMINDER = "survey_reminder"


class Notification(Table):
    id = Serial(primary_key=True)
    recipient = ForeignKey(Employee, null=False, on_delete=OnDelete.cascade)
    kind = Varchar(length=30, choices=Kind)
    actor = ForeignKey(Employee, null=True, on_delete=OnDelete.set_null)
    text = Text()  # plain text, escaped when shown
    url = Varchar(length=300)  # a local path
    action_label = Varchar(length=60, default="")  # e.g. "Thank now" for a completed request
    action_url = Varchar(length=300, default="")
    # What it is about ("request:12", "award_cycle:3"): a prompt is closed for everyone once its action is done.
    subject = Varchar(length=60, default="")
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)
    done_at = Timestamptz(null=True, default=None)  # its action was done (by anyone): the prompt is no longer shown

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Notifications link from their kind and subject: rows stored with links get their subject instead"

# Rows stored with links (every kind before they were made from the subject) lose them when they are the very links
# the web layer now makes from the row's kind and subject, the subject taken from the link when the row has none;
# a link in any other form is kept (and still shown when it is a local path), so no row loses where it led. The
# columns stay for those rows. Each statement is one kind's form, the subject's id taken from the link (\1).
_FORMS = (
    # (kinds, link, action link or '' (then no action label either), subject's table or '' (none needed))
    ("'kudos_received', 'addon_received'", r"^/kudos/(\d+)$", "", "kudos"),
    ("'request_assigned'", r"^/requests/(\d+)$", "", "request"),
    ("'request_completed'", r"^/requests/(\d+)$", r"/kudos/new?request=\1", "request"),
    ("'award_won', 'award_review'", r"^/awards/(\d+)$", "", "award_cycle"),
    ("'nomination_reminder'", r"^/awards()$", "", ""),
    ("'feedback_requested'", r"^/feedback/asks/(\d+)$", r"/feedback/asks/\1", "feedback_ask"),
    ("'feedback_received'", r"^/feedback/(\d+)$", "", "feedback"),
    ("'feedback_declined'", r"^/feedback()$", "", ""),
    ("'survey_open', 'survey_reminder'", r"^/surveys()$", "/surveys", ""),
)


def _statement(kinds: str, link: str, action: str, table: str) -> str:
    subject = f"'{table}:' || substring(url from '{link}')" if table else "subject"
    action_matches = (
        f"action_url = regexp_replace(url, '{link}', '{action}') AND action_label <> ''"
        if action
        else "action_url = '' AND action_label = ''"
    )
    return (
        f"UPDATE notification SET url = '', action_url = '', subject = {subject} "  # noqa: S608 — the constant forms
        f"WHERE kind IN ({kinds}) AND url ~ '{link}' AND {action_matches} AND subject IN ('', {subject})"
    )


CONVERT = (
    *(_statement(*form) for form in _FORMS),
    # a badge links to its reader's own badges
    "UPDATE notification SET url = '' "
    "WHERE kind = 'badge_earned' AND url = '/people/' || recipient || '#badges' AND action_url = '' "
    "AND action_label = ''",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def convert() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for statement in CONVERT:
            await engine.run_ddl(statement)

    manager.add_raw(convert)

    return manager

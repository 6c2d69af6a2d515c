from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T13:20:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "Index the open prompts; fill in the subject of existing ones and close those already dealt with"

# Existing prompts get their subject from the links they were made with, and are closed when their action was
# done already: a completed request thanked with a kudos linked to it, an award cycle announced.
_BACKFILL = (
    "UPDATE notification SET subject = 'request:' || substring(action_url from '^/kudos/new\\?request=(\\d+)$') "
    "WHERE kind = 'request_completed' AND action_url ~ '^/kudos/new\\?request=\\d+$'",
    "UPDATE notification SET subject = 'award_cycle:' || substring(url from '^/awards/(\\d+)$') "
    "WHERE kind = 'award_review' AND url ~ '^/awards/\\d+$'",
    "UPDATE notification n SET done_at = k.at, read_at = coalesce(n.read_at, k.at) "
    "FROM (SELECT request, min(created_at) AS at FROM kudos WHERE request IS NOT NULL AND revoked_at IS NULL "
    "GROUP BY request) AS k WHERE n.kind = 'request_completed' AND n.subject = 'request:' || k.request",
    "UPDATE notification n SET done_at = c.announced_at, read_at = coalesce(n.read_at, c.announced_at) "
    "FROM award_cycle c WHERE c.status = 'announced' AND n.kind = 'award_review' AND n.subject = 'award_cycle:' || c.id",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def backfill() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl(
            "CREATE INDEX notification_open_prompt ON notification (kind, subject) "
            "WHERE done_at IS NULL AND subject <> ''"
        )
        # A new database has no notifications yet (and perhaps not yet the other apps' tables): nothing to fill.
        if (await engine.run_ddl("SELECT EXISTS (SELECT 1 FROM notification) AS any"))[0]["any"]:
            for statement in _BACKFILL:
                await engine.run_ddl(statement)

    manager.add_raw(backfill)

    return manager

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T11:10:42:000000"
VERSION = "1.38.0"
DESCRIPTION = "Raw SQL Piccolo cannot express (it runs raw SQL before creating tables, hence a migration of its own)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def notification_indexes() -> None:
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "CREATE INDEX notification_inbox ON notification (recipient, created_at DESC, id DESC)"
        )
        await engine_finder().run_ddl(
            "CREATE INDEX notification_unread ON notification (recipient) WHERE read_at IS NULL"
        )

    manager.add_raw(notification_indexes)

    return manager

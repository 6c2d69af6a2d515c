from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T13:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The webhook sweeper finds waiting deliveries by their due time"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="api", description=DESCRIPTION)

    async def waiting_index() -> None:
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl(
            "CREATE INDEX webhook_delivery_waiting ON webhook_delivery (coalesce(next_attempt_at, created_at)) "
            "WHERE status IN ('pending', 'retrying')"
        )

    manager.add_raw(waiting_index)
    return manager

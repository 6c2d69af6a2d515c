from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T11:10:43:000000"
VERSION = "1.38.0"
DESCRIPTION = "Raw SQL Piccolo cannot express (it runs raw SQL before creating tables, hence a migration of its own)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="requests", description=DESCRIPTION)

    async def queue_index() -> None:
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl("CREATE INDEX request_queue ON request (department, status, created_at DESC)")

    manager.add_raw(queue_index)

    return manager

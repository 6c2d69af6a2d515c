from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Index of the ledger by the moment entries count for, for rebuilding one month of board rollups"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="kudos", description=DESCRIPTION)

    async def effective_index() -> None:
        from piccolo.engine import engine_finder

        # `kudos boards rebuild --month` reads the entries of the weeks around a month (app/boards/rollups.py).
        await engine_finder().run_ddl("CREATE INDEX ledger_entry_effective_at ON ledger_entry (effective_at)")

    manager.add_raw(effective_index)

    return manager

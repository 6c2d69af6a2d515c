from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:33:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "PersonGiverPeriod keeps month rows only: distinct givers are counted from the ledger"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="boards", description=DESCRIPTION)

    async def month_pairs_only() -> None:
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl("DELETE FROM person_giver_period WHERE period <> 'month'")

    manager.add_raw(month_pairs_only)

    return manager

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T23:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "An index on the kudos a person gave, newest first (profiles)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="kudos", description=DESCRIPTION)

    async def giver_time_index() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        # A profile's "given" list reads the person's newest kudos instead of all of them to sort.
        await engine.run_ddl("CREATE INDEX kudos_giver_time ON kudos (giver, created_at DESC, id DESC)")

    manager.add_raw(giver_time_index)

    return manager

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "An index on (name, id) for the lists of people in name order (admin people, the directory)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="people", description=DESCRIPTION)

    async def name_index() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        # A page of 50 people in name order reads 50 index entries instead of sorting every employee.
        await engine.run_ddl("CREATE INDEX employee_name_id ON employee (name, id)")

    manager.add_raw(name_index)

    return manager

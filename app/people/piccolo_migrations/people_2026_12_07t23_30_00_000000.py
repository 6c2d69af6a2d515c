from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for people in name order: everyone (admin people, directory), a department's members"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="people", description=DESCRIPTION)

    async def name_indexes() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        # A page of people in name order reads a page of index entries instead of sorting every employee (or every
        # member of a department of thousands).
        await engine.run_ddl("CREATE INDEX employee_name_id ON employee (name, id)")
        await engine.run_ddl("CREATE INDEX employee_department_name ON employee (department, name, id) WHERE active")

    manager.add_raw(name_indexes)

    return manager

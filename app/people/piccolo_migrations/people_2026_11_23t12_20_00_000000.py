from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T12:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for boards: who is kept off individual boards, and active members per department"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="people", description=DESCRIPTION)

    async def board_indexes() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl("CREATE INDEX employee_off_boards ON employee (id) WHERE NOT active OR board_opt_out")
        await engine.run_ddl("CREATE INDEX employee_active_department ON employee (department) WHERE active")

    manager.add_raw(board_indexes)

    return manager

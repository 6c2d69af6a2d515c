from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T12:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for department scorecards: completions and first responses per department, index-only"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="requests", description=DESCRIPTION)

    async def scorecard_indexes() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl(
            "CREATE INDEX request_department_completed ON request (department, completed_at) "
            "INCLUDE (created_at, service, id) WHERE completed_at IS NOT NULL"
        )
        await engine.run_ddl(
            "CREATE INDEX request_department_responded ON request (department, first_response_at) "
            "INCLUDE (created_at) WHERE first_response_at IS NOT NULL"
        )

    manager.add_raw(scorecard_indexes)

    return manager

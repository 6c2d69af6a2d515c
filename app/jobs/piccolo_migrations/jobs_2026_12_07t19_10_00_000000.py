from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T19:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Rows added to the job outbox wake the workers (NOTIFY job_outbox, sent when the transaction commits)"

_FUNCTION = """
CREATE OR REPLACE FUNCTION job_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('job_outbox', '');
    RETURN NULL;
END;
$$
"""
_TRIGGER = """
CREATE TRIGGER job_outbox_added AFTER INSERT ON job_outbox
FOR EACH STATEMENT EXECUTE FUNCTION job_outbox_notify()
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="jobs", description=DESCRIPTION)

    async def create() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl(_FUNCTION)
        await engine.run_ddl("DROP TRIGGER IF EXISTS job_outbox_added ON job_outbox")
        await engine.run_ddl(_TRIGGER)

    async def drop() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl("DROP TRIGGER IF EXISTS job_outbox_added ON job_outbox")
        await engine.run_ddl("DROP FUNCTION IF EXISTS job_outbox_notify()")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)

    return manager

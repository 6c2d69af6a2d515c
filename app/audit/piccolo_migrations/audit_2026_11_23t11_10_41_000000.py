from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T11:10:41:000000"
VERSION = "1.38.0"
DESCRIPTION = "Raw SQL Piccolo cannot express (it runs raw SQL before creating tables, hence a migration of its own)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)

    async def audit_is_append_only() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl(
            """
            CREATE OR REPLACE FUNCTION kudos_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        await engine.run_ddl(
            "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION kudos_refuse_change()"
        )

    manager.add_raw(audit_is_append_only)

    return manager

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T11:10:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "Raw SQL Piccolo cannot express (it runs raw SQL before creating tables, hence a migration of its own)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="kudos", description=DESCRIPTION)

    async def ledger_is_append_only() -> None:
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
            "CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry "
            "FOR EACH ROW EXECUTE FUNCTION kudos_refuse_change()"
        )
        # The feed pages newest first by (created_at, id); a person's kudos received by recipient.
        await engine.run_ddl("CREATE INDEX kudos_feed ON kudos (created_at DESC, id DESC)")
        await engine.run_ddl("CREATE INDEX ledger_entry_recipient_time ON ledger_entry (recipient, created_at)")

    manager.add_raw(ledger_is_append_only)

    return manager

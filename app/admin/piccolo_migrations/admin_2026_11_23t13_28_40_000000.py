from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:28:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "The ledger stays append-only, except that a department merge may re-point its department columns"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="admin", description=DESCRIPTION)

    async def ledger_guard() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        # Amounts, people and times never change. Only a merge (app/admin/departments.py), which sets
        # kudos.department_merge for its own transaction, may move entries from the merged department to the one
        # it joins; everything else about the row must stay as it was.
        await engine.run_ddl(
            """
            CREATE OR REPLACE FUNCTION kudos_ledger_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND current_setting('kudos.department_merge', true) = 'on'
                   AND to_jsonb(NEW) - 'giver_department' - 'recipient_department'
                       = to_jsonb(OLD) - 'giver_department' - 'recipient_department' THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        await engine.run_ddl("DROP TRIGGER ledger_entry_append_only ON ledger_entry")
        await engine.run_ddl(
            "CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry "
            "FOR EACH ROW EXECUTE FUNCTION kudos_ledger_guard()"
        )
        await engine.run_ddl("CREATE INDEX csv_import_recent ON csv_import (created_at DESC, id DESC)")

    manager.add_raw(ledger_guard)

    return manager

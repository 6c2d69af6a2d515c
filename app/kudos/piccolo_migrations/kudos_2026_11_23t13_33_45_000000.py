from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:33:45:000000"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for the board rollups: a pair's kudos entries, by recipient and by recipient's department"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="kudos", description=DESCRIPTION)

    async def pair_indexes() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        # app.boards.rollups.apply() reads a (recipient, giver) pair's kudos entries (add-ons carry no kudos) to
        # tell whether the giver is new, or no longer counts, in each period; and the same for departments.
        await engine.run_ddl(
            "CREATE INDEX ledger_entry_recipient_pair ON ledger_entry (recipient, giver) WHERE addon IS NULL"
        )
        await engine.run_ddl(
            "CREATE INDEX ledger_entry_department_pair ON ledger_entry (recipient_department, giver) "
            "WHERE addon IS NULL"
        )

    manager.add_raw(pair_indexes)

    return manager

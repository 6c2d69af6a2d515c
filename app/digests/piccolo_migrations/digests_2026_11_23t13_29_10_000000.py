from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:29:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "Digest delivery indexes: claiming due rows, progress per period (raw SQL runs before tables)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="digests", description=DESCRIPTION)

    async def delivery_indexes() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        # Workers claim due pending rows oldest first; the reaper looks for stale claims.
        await engine.run_ddl(
            "CREATE INDEX digest_delivery_due ON digest_delivery (next_attempt_at, id) WHERE status = 'pending'"
        )
        await engine.run_ddl(
            "CREATE INDEX digest_delivery_claimed ON digest_delivery (claimed_at) WHERE status = 'sending'"
        )
        # Progress bars and the failed list of a run.
        await engine.run_ddl("CREATE INDEX digest_delivery_progress ON digest_delivery (period, status)")

    manager.add_raw(delivery_indexes)

    return manager

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T11:49:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "Board indexes: one per metric, so a board is an index range scan (raw SQL runs before tables)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="boards", description=DESCRIPTION)

    async def board_indexes() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for metric in ("points", "kudos", "givers", "cross_givers"):
            await engine.run_ddl(
                f"CREATE INDEX person_period_{metric} ON person_period (period, start, {metric} DESC, employee)"
            )

        await engine.run_ddl("CREATE INDEX department_period_board ON department_period (period, start)")
        # badges merged into the feed, newest first
        await engine.run_ddl("CREATE INDEX badge_award_feed ON badge_award (awarded_at DESC, id DESC)")

    manager.add_raw(board_indexes)

    return manager

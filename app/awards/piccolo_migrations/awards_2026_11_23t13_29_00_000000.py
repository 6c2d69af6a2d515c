from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:29:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Awards: one nominee per row, one nomination per nominee, winner lookups, default categories and calendar"

# SPEC F9's three default categories: (name, description, nominee kind, winners, shortlist figure, position)
DEFAULT_CATEGORIES = [
    (
        "Internal Service Star",
        "A person whose service to colleagues stood out this month.",
        "person",
        1,
        "points",
        1,
    ),
    (
        "Department of the Month",
        "The department that served the rest of the organisation best this month.",
        "department",
        1,
        "per_head",
        2,
    ),
    (
        "Bridge Builder",
        "A person who helped many departments this month.",
        "person",
        1,
        "departments",
        3,
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="awards", description=DESCRIPTION)

    async def constraints_and_defaults() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for table in ("nomination", "award_winner"):
            await engine.run_ddl(
                f"ALTER TABLE {table} ADD CONSTRAINT {table}_one_nominee "
                "CHECK ((person IS NULL) <> (department IS NULL))"
            )
        # one nomination per (cycle, category, nominator, nominee), whichever kind the nominee is
        await engine.run_ddl(
            "CREATE UNIQUE INDEX nomination_once ON nomination "
            "(cycle, category, nominator, COALESCE(person, 0), COALESCE(department, 0))"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX award_winner_once ON award_winner "
            "(cycle, category, COALESCE(person, 0), COALESCE(department, 0))"
        )
        await engine.run_ddl("CREATE INDEX nomination_cycle ON nomination (cycle, category)")
        for name, description, kind, winners, shortlist, position in DEFAULT_CATEGORIES:
            await engine.run_ddl(
                "INSERT INTO award_category (name, description, nominee_kind, winners, shortlist, position, active) "  # noqa: S608 — constants above
                f"VALUES ('{name}', '{description}', '{kind}', {winners}, '{shortlist}', {position}, true) "
                "ON CONFLICT (name) DO NOTHING"
            )
        await engine.run_ddl("INSERT INTO award_calendar (id) VALUES (1) ON CONFLICT (id) DO NOTHING")

    manager.add_raw(constraints_and_defaults)

    return manager

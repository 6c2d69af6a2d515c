from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T11:10:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "A fresh install starts with the default allowance policy and a few company values"

VALUES = [
    ("Customer first", "Put the colleague you serve at the centre."),
    ("Ownership", "Took it from request to resolution without being chased."),
    ("Teamwork", "Worked across teams to get it done."),
    ("Extra mile", "Went beyond what was asked."),
    ("Clear communication", "Kept people informed, plainly and on time."),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="kudos", description=DESCRIPTION)

    async def defaults() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        await engine.run_ddl("INSERT INTO allowance_policy (id) VALUES (1) ON CONFLICT (id) DO NOTHING")

        def quoted(text: str) -> str:  # constants above, quoted for a literal
            return "'" + text.replace("'", "''") + "'"

        rows = ", ".join(
            f"({quoted(name)}, {quoted(description)}, {position}, true)"
            for position, (name, description) in enumerate(VALUES)
        )
        await engine.run_ddl(
            f"INSERT INTO company_value (name, description, position, active) VALUES {rows} "  # noqa: S608
            "ON CONFLICT (name) DO NOTHING"
        )

    manager.add_raw(defaults)

    return manager

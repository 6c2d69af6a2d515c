from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Chat integrations: Slack and Teams settings, Teams channels, chat deliveries"

_TABLES = [
    """
    CREATE TABLE chat_settings (
        id integer PRIMARY KEY CONSTRAINT chat_settings_single_row CHECK (id = 1),
        slack_signing_secret text NOT NULL DEFAULT '',
        slack_bot_token text NOT NULL DEFAULT '',
        slack_channel varchar(80) NOT NULL DEFAULT '',
        teams_token text NOT NULL DEFAULT '',
        updated_by integer REFERENCES employee (id) ON DELETE SET NULL,
        updated_at timestamptz
    )
    """,
    """
    CREATE TABLE teams_channel (
        id serial PRIMARY KEY,
        name varchar(80) NOT NULL DEFAULT '',
        url text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        removed_at timestamptz
    )
    """,
    """
    CREATE TABLE chat_delivery (
        id bigserial PRIMARY KEY,
        kind varchar(20) NOT NULL DEFAULT '',
        target varchar(1000) NOT NULL DEFAULT '',
        teams_channel integer REFERENCES teams_channel (id) ON DELETE CASCADE,
        event varchar(40) NOT NULL DEFAULT '',
        body text NOT NULL DEFAULT '',
        status varchar(20) NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        last_error text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        next_attempt_at timestamptz,
        delivered_at timestamptz
    )
    """,
    "CREATE INDEX chat_delivery_teams_channel ON chat_delivery (teams_channel)",
    "CREATE INDEX chat_delivery_created_at ON chat_delivery (created_at)",
    """
    CREATE INDEX chat_delivery_waiting ON chat_delivery (coalesce(next_attempt_at, created_at))
    WHERE status IN ('pending', 'retrying')
    """,
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="integrations", description=DESCRIPTION)

    async def create() -> None:
        from piccolo.engine import engine_finder

        for statement in _TABLES:
            await engine_finder().run_ddl(statement)

    async def drop() -> None:
        from piccolo.engine import engine_finder

        await engine_finder().run_ddl("DROP TABLE IF EXISTS chat_delivery, teams_channel, chat_settings")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager

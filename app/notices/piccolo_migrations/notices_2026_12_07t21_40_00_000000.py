from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T21:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Email notices: preferences per kind, the notices (one per person, event and kind) and their mails"

CREATE = (
    """CREATE TABLE notice_preference (
        id serial PRIMARY KEY,
        employee integer NOT NULL REFERENCES employee (id) ON DELETE CASCADE,
        kind varchar(10) NOT NULL CHECK (kind IN ('kudos', 'addon', 'badge', 'award', 'request')),
        choice varchar(10) NOT NULL CHECK (choice IN ('instant', 'daily', 'never')),
        updated_at timestamptz NOT NULL,
        CONSTRAINT notice_preference_one_per_kind UNIQUE (employee, kind)
    )""",
    """CREATE TABLE notice_mail (
        id bigserial PRIMARY KEY,
        employee integer NOT NULL REFERENCES employee (id) ON DELETE CASCADE,
        day date NULL,
        status varchar(10) NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        claimed_at timestamptz NULL,
        claimed_by varchar(64) NULL,
        sent_at timestamptz NULL,
        last_error text NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT notice_mail_one_summary_per_day UNIQUE (employee, day)
    )""",
    "CREATE INDEX notice_mail_due ON notice_mail (next_attempt_at, id) WHERE status = 'pending'",
    "CREATE INDEX notice_mail_claimed ON notice_mail (claimed_at) WHERE status = 'sending'",
    """CREATE TABLE notice (
        id bigserial PRIMARY KEY,
        employee integer NOT NULL REFERENCES employee (id) ON DELETE CASCADE,
        kind varchar(10) NOT NULL CHECK (kind IN ('kudos', 'addon', 'badge', 'award', 'request')),
        event_id varchar(32) NOT NULL,
        choice varchar(10) NOT NULL CHECK (choice IN ('instant', 'daily')),
        actor integer NULL REFERENCES employee (id) ON DELETE SET NULL,
        subject_id bigint NOT NULL,
        headline text NOT NULL,
        detail text NOT NULL DEFAULT '',
        private boolean NOT NULL DEFAULT false,
        mail bigint NULL REFERENCES notice_mail (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT notice_one_per_person_event_kind UNIQUE (employee, event_id, kind)
    )""",
    # the daily summary's plan: who has daily notices waiting for a mail
    "CREATE INDEX notice_waiting ON notice (employee) WHERE mail IS NULL",
    "CREATE INDEX notice_by_mail ON notice (mail)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        for statement in CREATE:
            await engine.run_ddl(statement)

    manager.add_raw(create)

    return manager

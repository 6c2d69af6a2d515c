from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T13:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "What a notification is about (subject) and when its action was done (done_at), for closing prompts"

_PARAMS = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Notification",
        tablename="notification",
        column_name="subject",
        db_column_name="subject",
        column_class_name="Varchar",
        column_class=Varchar,
        params={"length": 60, "default": "", "null": False, **_PARAMS},
        schema=None,
    )
    manager.add_column(
        table_class_name="Notification",
        tablename="notification",
        column_name="done_at",
        db_column_name="done_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={"default": None, "null": True, **_PARAMS},
        schema=None,
    )

    return manager

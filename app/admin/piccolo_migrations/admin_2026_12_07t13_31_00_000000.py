from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSONB
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T13:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "What a CSV import's dry run would do besides its counts: departments to create, fields to update"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="admin", description=DESCRIPTION)

    manager.add_column(
        table_class_name="CsvImport",
        tablename="csv_import",
        column_name="preview",
        db_column_name="preview",
        column_class_name="JSONB",
        column_class=JSONB,
        params={
            "default": "{}",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager

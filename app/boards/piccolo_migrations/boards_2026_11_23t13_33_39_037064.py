from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T13:33:39:037064"
VERSION = "1.38.0"
DESCRIPTION = "Department giver pairs are counted from the ledger; the table goes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="boards", description=DESCRIPTION)

    manager.drop_table(
        class_name="DepartmentGiverPeriod",
        tablename="department_giver_period",
        schema=None,
    )

    return manager

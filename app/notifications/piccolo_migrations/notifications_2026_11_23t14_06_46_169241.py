from enum import Enum

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar

ID = "2026-11-23T14:06:46:169241"
VERSION = "1.38.0"
DESCRIPTION = ""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="Notification",
        tablename="notification",
        column_name="kind",
        db_column_name="kind",
        params={
            "choices": Enum(
                "Kind",
                {
                    "KUDOS_RECEIVED": "kudos_received",
                    "ADDON_RECEIVED": "addon_received",
                    "REQUEST_COMPLETED": "request_completed",
                    "REQUEST_ASSIGNED": "request_assigned",
                    "BADGE_EARNED": "badge_earned",
                    "AWARD_WON": "award_won",
                    "NOMINATION_REMINDER": "nomination_reminder",
                    "AWARD_REVIEW": "award_review",
                },
            )
        },
        old_params={
            "choices": Enum(
                "Kind",
                {
                    "KUDOS_RECEIVED": "kudos_received",
                    "ADDON_RECEIVED": "addon_received",
                    "REQUEST_COMPLETED": "request_completed",
                    "REQUEST_ASSIGNED": "request_assigned",
                    "BADGE_EARNED": "badge_earned",
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager

import os

from piccolo.conf.apps import AppConfig

from app.kudos.tables import (
    AddOn,
    Allowance,
    AllowancePolicy,
    CompanyValue,
    Kudos,
    KudosRecipient,
    KudosValue,
    LedgerEntry,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="kudos",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[AddOn, Allowance, AllowancePolicy, CompanyValue, Kudos, KudosRecipient, KudosValue, LedgerEntry],
    migration_dependencies=["app.people.piccolo_app", "app.requests.piccolo_app"],
    commands=[],
)

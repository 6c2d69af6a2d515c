import os

from piccolo.conf.apps import AppConfig

from app.admin.tables import CsvImport, Invitation, PasswordReset

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="admin",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[PasswordReset, Invitation, CsvImport],
    migration_dependencies=["app.people.piccolo_app", "app.kudos.piccolo_app"],
    commands=[],
)

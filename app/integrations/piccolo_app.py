import os

from piccolo.conf.apps import AppConfig

from app.integrations.tables import ChatDelivery, ChatSettings, TeamsChannel

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="integrations",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[ChatSettings, TeamsChannel, ChatDelivery],
    migration_dependencies=["app.people.piccolo_app", "app.api.piccolo_app"],
    commands=[],
)

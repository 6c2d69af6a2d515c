import os

from piccolo.conf.apps import AppConfig

from app.api.tables import ApiToken, Webhook, WebhookDelivery

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="api",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[ApiToken, Webhook, WebhookDelivery],
    migration_dependencies=["app.people.piccolo_app"],
    commands=[],
)

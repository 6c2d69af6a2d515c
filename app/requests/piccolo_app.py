import os

from piccolo.conf.apps import AppConfig

from app.requests.tables import Request, RequestEvent, RequestRating, RequestResolver

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="requests",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Request, RequestEvent, RequestRating, RequestResolver],
    migration_dependencies=["app.people.piccolo_app"],
    commands=[],
)

import os

from piccolo.conf.apps import AppConfig

from app.digests.tables import DigestDelivery, DigestOptOut, DigestRun, DigestSchedule

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="digests",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[DigestRun, DigestDelivery, DigestOptOut, DigestSchedule],
    migration_dependencies=["app.people.piccolo_app"],
    commands=[],
)

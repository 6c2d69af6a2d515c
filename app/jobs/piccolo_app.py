import os

from piccolo.conf.apps import AppConfig

from app.jobs.tables import EventReceipt, JobOutbox

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="jobs",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[JobOutbox, EventReceipt],
    migration_dependencies=[],
    commands=[],
)

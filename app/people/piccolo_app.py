import os

from piccolo.conf.apps import AppConfig

from app.people.tables import Department, DepartmentLead, Employee, Service

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="people",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Department, Service, Employee, DepartmentLead],
    migration_dependencies=[],
    commands=[],
)

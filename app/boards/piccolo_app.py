import os

from piccolo.conf.apps import AppConfig

from app.boards.tables import BadgeAward, DepartmentPeriod, PersonGiverPeriod, PersonPeriod

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="boards",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[PersonPeriod, DepartmentPeriod, PersonGiverPeriod, BadgeAward],
    migration_dependencies=["app.people.piccolo_app"],
    commands=[],
)

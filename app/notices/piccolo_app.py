import os

from piccolo.conf.apps import AppConfig

from app.notices.tables import Notice, NoticeMail, NoticePreference

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="notices",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[NoticePreference, NoticeMail, Notice],
    migration_dependencies=["app.people.piccolo_app"],
    commands=[],
)

import os

from piccolo.conf.apps import AppConfig

from app.surveys.tables import SurveyAnswer, SurveyInvite, SurveyResult, SurveyRound

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="surveys",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[SurveyRound, SurveyInvite, SurveyAnswer, SurveyResult],
    migration_dependencies=["app.people.piccolo_app"],
    commands=[],
)

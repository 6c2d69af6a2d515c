import os

from piccolo.conf.apps import AppConfig

from app.feedback.tables import Feedback, FeedbackAsk, FeedbackAskee

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="feedback",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[FeedbackAsk, FeedbackAskee, Feedback],
    migration_dependencies=["app.people.piccolo_app", "app.requests.piccolo_app"],
    commands=[],
)

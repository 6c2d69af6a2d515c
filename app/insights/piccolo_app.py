import os

from piccolo.conf.apps import AppConfig

from app.insights.tables import (
    DepartmentFigures,
    DepartmentFlow,
    DetectionRun,
    Finding,
    FindingReview,
    SignalSettings,
    SilentContributor,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="insights",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        SignalSettings,
        DetectionRun,
        Finding,
        FindingReview,
        DepartmentFlow,
        DepartmentFigures,
        SilentContributor,
    ],
    migration_dependencies=["app.people.piccolo_app", "app.kudos.piccolo_app", "app.requests.piccolo_app"],
    commands=[],
)

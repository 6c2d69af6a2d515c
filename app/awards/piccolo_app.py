import os

from piccolo.conf.apps import AppConfig

from app.awards.tables import (
    AwardCalendar,
    AwardCategory,
    AwardCycle,
    AwardReminder,
    AwardShortlist,
    AwardShortlistEntry,
    AwardWinner,
    Nomination,
    NominationEvidence,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="awards",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[
        AwardCategory,
        AwardCalendar,
        AwardCycle,
        Nomination,
        NominationEvidence,
        AwardReminder,
        AwardWinner,
        AwardShortlist,
        AwardShortlistEntry,
    ],
    migration_dependencies=["app.people.piccolo_app", "app.kudos.piccolo_app"],
    commands=[],
)

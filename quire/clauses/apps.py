from django.apps import AppConfig


class ClausesConfig(AppConfig):
    name = "quire.clauses"
    label = "clauses"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quire.clauses.selectors import trainings_running_report
        from quire.clauses.services import clause_types_forget
        from quire.documents.services import document_erasing
        from tenants.backups import schema_draining

        document_erasing.connect(clause_types_forget, dispatch_uid="clauses.clause_types_forget")
        schema_draining.connect(trainings_running_report, dispatch_uid="clauses.trainings_running_report")

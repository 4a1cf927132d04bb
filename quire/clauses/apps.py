from django.apps import AppConfig


class ClausesConfig(AppConfig):
    name = "quire.clauses"
    label = "clauses"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quire.clauses.services import clause_types_forget
        from quire.documents.services import document_erasing

        document_erasing.connect(clause_types_forget, dispatch_uid="clauses.clause_types_forget")

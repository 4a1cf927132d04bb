from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "quire.documents"
    label = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quire.documents.selectors import restored_documents_report
        from tenants.backups import schema_restored

        schema_restored.connect(restored_documents_report, dispatch_uid="documents.restored_documents_report")

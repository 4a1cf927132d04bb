from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "quire.documents"
    label = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from quire.documents.checks import ocr_languages_check
        from quire.documents.selectors import ingests_running_report, restored_documents_report
        from tenants.backups import schema_draining, schema_restored

        schema_restored.connect(restored_documents_report, dispatch_uid="documents.restored_documents_report")
        schema_draining.connect(ingests_running_report, dispatch_uid="documents.ingests_running_report")
        checks.register(ocr_languages_check)

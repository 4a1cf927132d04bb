from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "quire.jobs"
    label = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quire.documents.services import document_erasing
        from quire.jobs.services import job_results_redact

        document_erasing.connect(job_results_redact, dispatch_uid="jobs.job_results_redact")

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "quire.jobs"
    label = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quire.documents.services import document_erasing
        from quire.jobs.selectors import running_jobs_report
        from quire.jobs.services import job_results_redact
        from tenants.backups import schema_draining

        document_erasing.connect(job_results_redact, dispatch_uid="jobs.job_results_redact")
        schema_draining.connect(running_jobs_report, dispatch_uid="jobs.running_jobs_report")

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "quire.api"
    label = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quire.api import schema  # noqa: F401  (registers the OpenAPI extensions)

from django.apps import AppConfig


class ClausesConfig(AppConfig):
    name = "quire.clauses"
    label = "clauses"
    default_auto_field = "django.db.models.BigAutoField"

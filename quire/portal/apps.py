from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "quire.portal"
    label = "portal"
    verbose_name = "Tenant admin portal"

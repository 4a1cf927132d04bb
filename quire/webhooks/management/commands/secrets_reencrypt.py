from django.core.management.base import BaseCommand

from billing.services import billing_secrets_reencrypt
from quire.webhooks.services import endpoints_secrets_reencrypt
from tenants.services import for_each_tenant


class Command(BaseCommand):
    help = (
        "Encrypt every stored secret again under the first key of QUIRE_ENCRYPTION_KEYS (webhook signing "
        "secrets in every tenant, Stripe ids); run after putting a new key first, before dropping the old one."
    )

    def handle(self, *args, **kwargs):
        accounts = billing_secrets_reencrypt()
        endpoints = sum(for_each_tenant(lambda tenant: endpoints_secrets_reencrypt()))
        self.stdout.write(f"re-encrypted {accounts} billing account(s) and {endpoints} webhook endpoint(s)")

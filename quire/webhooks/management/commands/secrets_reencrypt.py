from django.core.management.base import BaseCommand, CommandError

from billing.services import billing_secrets_reencrypt
from quire.webhooks.services import endpoints_secrets_reencrypt
from tenants.crypto import UndecryptableSecret
from tenants.services import SweepFailed, for_each_tenant

KEY_MISSING = (
    "list the key it was written under after the new one (QUIRE_ENCRYPTION_KEYS=new,old) and run the "
    "command again; drop the old key only once the command succeeds"
)


class Command(BaseCommand):
    help = (
        "Encrypt every stored secret again under the first key of QUIRE_ENCRYPTION_KEYS (webhook signing "
        "secrets in every tenant, Stripe ids); run after putting a new key first, before dropping the old one."
    )

    def handle(self, *args, **kwargs):
        try:
            accounts = billing_secrets_reencrypt()
        except UndecryptableSecret as exc:
            raise CommandError(f"{exc} (a billing account); {KEY_MISSING}") from exc
        try:
            endpoints = sum(
                for_each_tenant(lambda tenant: endpoints_secrets_reencrypt(), include_inactive=True)
            )
        except SweepFailed as failed:
            self.stdout.write(
                f"re-encrypted {accounts} billing account(s) and {sum(failed.results)} webhook endpoint(s)"
            )
            if any(isinstance(exc, UndecryptableSecret) for exc in failed.failures.values()):
                raise CommandError(f"{failed}; {KEY_MISSING}") from failed
            raise CommandError(f"{failed}; run the command again before dropping the old key") from failed
        self.stdout.write(f"re-encrypted {accounts} billing account(s) and {endpoints} webhook endpoint(s)")

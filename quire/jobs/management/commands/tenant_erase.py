from django.core.management.base import BaseCommand, CommandError

from billing.entitlements import money_text
from quire.jobs.services import workspace_erase
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Erase a tenant entirely: schema, stored files, usage ledger, audit log, API keys, members, host "
        "names. Irreversible."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, slug: str, yes: bool, **kwargs):
        tenant = Tenant.objects.exclude(schema_name="public").filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        if not yes and _answer(f"Type the slug to erase {tenant.name} for good: ") != slug:
            raise CommandError("not confirmed; nothing was erased")
        final_invoice = workspace_erase(tenant=tenant)
        self.stdout.write(f"erased tenant {slug} ({tenant.public_id})")
        if final_invoice is not None:
            amount = money_text(final_invoice["amount_due"], final_invoice["currency"])
            outcome = (
                "paid" if final_invoice["paid"] else "NOT paid: it stays open at Stripe, to collect by hand"
            )
            self.stdout.write(f"final invoice {amount}, {outcome}")


def _answer(prompt: str) -> str:
    """What the operator typed; empty when stdin is closed (a script without --yes) or on Ctrl-C."""
    try:
        return input(prompt).strip()
    except (EOFError, KeyboardInterrupt):
        return ""

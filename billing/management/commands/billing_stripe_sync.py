from django.core.management.base import BaseCommand, CommandError

from billing.stripe_gateway import StripeNotConfigured, stripe_catalog_sync


class Command(BaseCommand):
    help = "Create the Stripe billing meter and, for each plan without them, a product, a flat and a metered price."

    def handle(self, *args, **options) -> None:
        try:
            synced = stripe_catalog_sync()
        except StripeNotConfigured as exc:
            raise CommandError(str(exc)) from exc
        for plan in synced:
            self.stdout.write(
                f"{plan.code}: {plan.stripe_flat_price_id} (flat), {plan.stripe_metered_price_id} (metered)"
            )
        self.stdout.write(f"{len(synced)} plan(s) synced")

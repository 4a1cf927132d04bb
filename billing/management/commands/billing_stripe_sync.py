from django.core.management.base import BaseCommand, CommandError

from billing.stripe_gateway import StripeNotConfigured, stripe_catalog_sync


class Command(BaseCommand):
    help = (
        "Create the Stripe billing meters and, for each plan without them, a product, a flat price, a metered "
        "page price (graduated: the included pages free, then the overage price) and a metered price per token "
        "kind (again when the plan's included pages, overage price or a token price changed)."
    )

    def handle(self, *args, **options) -> None:
        try:
            synced = stripe_catalog_sync()
        except StripeNotConfigured as exc:
            raise CommandError(str(exc)) from exc
        for plan in synced:
            self.stdout.write(
                f"{plan.code}: {plan.stripe_flat_price_id} (flat), {plan.stripe_metered_price_id} (pages), "
                + ", ".join(
                    f"{token['price']} ({kind})" for kind, token in plan.stripe_token_price_ids.items()
                )
            )
        self.stdout.write(f"{len(synced)} plan(s) synced")

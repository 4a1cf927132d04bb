from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Refused: `manage.py tenant_erase SLUG` removes a tenant whole."

    def add_arguments(self, parser):
        parser.add_argument("args", nargs="*")
        parser.add_argument("-s", "--schema", dest="schema_name")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, **options):
        raise CommandError(
            "delete_tenant would drop the schema and the tenant's row and leave its stored files, usage ledger "
            "and Stripe customer behind: erase a tenant with `manage.py tenant_erase SLUG`"
        )

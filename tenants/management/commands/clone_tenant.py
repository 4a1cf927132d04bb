from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Refused: `manage.py create_tenant NAME` makes a tenant whole."

    def add_arguments(self, parser):
        parser.add_argument("args", nargs="*")
        parser.add_argument("--clone_from")

    def handle(self, *args, **options):
        raise CommandError(
            "clone_tenant would copy a schema's rows without its tenant's API key or host name, and the copied "
            "documents would name the first tenant's stored files, which erasing either tenant deletes: make a "
            "tenant with `manage.py create_tenant NAME`"
        )

import csv
import os
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.passwords import password_set_link
from tenants.services import ProvisionedTenant, tenant_provision

CSV_FIELDS = ("line", "slug", "tenant", "schema", "api_key", "secret", "error", "owner_link")


def owner_link(provisioned: ProvisionedTenant, portal_url: str | None) -> str:
    """The link on which a new owner without a password sets one: on `portal_url`, else on the workspace's
    host, https in production, in development on the port `make run` serves (QUIRE_PORT, 8000); empty when
    there is no owner or they have a password."""
    owner = provisioned.owner
    if owner is None or owner.user.has_usable_password():
        return ""
    host = provisioned.tenant.domains.get(is_primary=True).domain
    if portal_url:
        base = portal_url
    elif settings.QUIRE_ENV == "production":
        base = f"https://{host}"
    elif settings.QUIRE_ENV == "development":
        base = f"http://{host}:{os.environ.get('QUIRE_PORT', '8000')}"
    else:
        base = f"http://{host}"
    return password_set_link(user=owner.user, base_url=base)


def portal_url_checked(portal_url: str | None) -> str | None:
    """`portal_url` without a trailing slash; CommandError unless it is http(s)://host[:port]."""
    if portal_url is None:
        return None
    parts = urlsplit(portal_url)
    try:
        hostname, _ = parts.hostname, parts.port
    except ValueError:
        hostname = None
    if (
        parts.scheme not in ("http", "https")
        or not hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise CommandError(
            f"--portal-url {portal_url!r} is not a scheme, host and port, such as https://portal.example.com "
            "or http://acme.localhost:8000"
        )
    return portal_url.rstrip("/")


class Command(BaseCommand):
    help = (
        "Provision a tenant: schema with tenant migrations, pgvector, hostname, owner, first API key. An owner "
        "without a password gets a link to set one (also printed; the portal's password reset sends another). "
        "With --from-csv, one tenant a row of a CSV file (columns name, and optionally slug and owner), each in "
        "a transaction of its own; the keys and links come out as CSV on stdout, one line a row, as each is made."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?")
        parser.add_argument("--slug")
        parser.add_argument("--owner", help="owner's e-mail; created as a member with role owner")
        parser.add_argument("--from-csv", type=Path, help="a CSV file with a header row: name[,slug][,owner]")
        parser.add_argument(
            "--portal-url",
            help="scheme, host and port of the owner's link (default: the workspace's host name, https in "
            "production)",
        )

    def handle(
        self,
        *args,
        name: str | None,
        slug: str | None,
        owner: str | None,
        from_csv: Path | None,
        portal_url: str | None,
        **options,
    ):
        if (name is None) == (from_csv is None):
            raise CommandError("give a tenant's name, or --from-csv FILE")
        portal_url = portal_url_checked(portal_url)
        if from_csv is not None:
            if slug or owner:
                raise CommandError("--slug and --owner are columns of the CSV file with --from-csv")
            return self._from_csv(from_csv, portal_url)
        try:
            provisioned = tenant_provision(name=name, slug=slug, owner_email=owner)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        tenant, issued = provisioned.tenant, provisioned.issued_key
        self.stdout.write(f"tenant   {tenant.public_id} slug={tenant.slug} schema={tenant.schema_name}")
        self.stdout.write(f"api key  {issued.api_key.id} (admin): {issued.secret}")
        self.stdout.write("The key is shown once; store it now.")
        link = owner_link(provisioned, portal_url)
        if link:
            self.stdout.write(f"owner    {provisioned.owner.user.email} sets a password at {link}")

    def _from_csv(self, path: Path, portal_url: str | None) -> None:
        try:
            with path.open(newline="", encoding="utf-8-sig") as source:
                rows = list(csv.DictReader(source))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        if rows and "name" not in rows[0]:
            raise CommandError(f"{path} needs a header row with a 'name' column (and optionally slug, owner)")
        out = csv.DictWriter(self.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
        out.writeheader()
        failed = 0
        for line, row in enumerate(rows, start=2):
            fields = {key: (value or "").strip() for key, value in row.items() if key}
            try:
                if not fields.get("name"):
                    raise ValueError("the name is empty")
                provisioned = tenant_provision(
                    name=fields["name"],
                    slug=fields.get("slug") or None,
                    owner_email=fields.get("owner") or None,
                )
            except ValueError as exc:
                failed += 1
                out.writerow({"line": line, "slug": fields.get("slug", ""), "error": str(exc)})
            else:
                tenant, issued = provisioned.tenant, provisioned.issued_key
                out.writerow(
                    {
                        "line": line,
                        "slug": tenant.slug,
                        "tenant": tenant.public_id,
                        "schema": tenant.schema_name,
                        "api_key": issued.api_key.id,
                        "secret": issued.secret,
                        "owner_link": owner_link(provisioned, portal_url),
                    }
                )
            self.stdout.flush()
        self.stderr.write(
            f"{len(rows) - failed} of {len(rows)} tenants provisioned; the keys are shown once."
        )
        if failed:
            raise CommandError(f"{failed} of {len(rows)} rows were not provisioned (their lines say why)")

"""Input of the portal's forms. Field errors render next to their field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from common.env import OCR_PICTURES, ocr_languages_refused
from common.jsontext import json_value
from quire.api.throttling import hit_sliding, parse_rate
from tenants.models import API_KEY_ROLES, RETENTION_DAYS_MAX, Member, Role, Tenant, email_normalised

KEY_ROLES = [(r.value, r.label) for r in API_KEY_ROLES]
MODES = [("analyzers", "Analyzers (CPU)"), ("model", "Model (inference tier)")]


def sign_in_key(email: str) -> str:
    """What `QUIRE_SIGN_IN_RATE` counts attempts by: the e-mail as `email_normalised` gives it. Not the host as
    well: a password is one per person whatever the host, and a Host header is the client's to choose."""
    return f"sign-in:{email}"


def sign_in_attempt_counted(email: str) -> None:
    """Count one sign-in attempt for `email` (as `email_normalised` gives it) against `QUIRE_SIGN_IN_RATE`;
    past the limit, refuse it with the form error that says so (code `rate_limited`)."""
    limit, period = parse_rate(settings.QUIRE_SIGN_IN_RATE)
    allowed, reset = hit_sliding(sign_in_key(email), limit, period)
    if not allowed:
        minutes = max(1, round(reset / 60))
        raise forms.ValidationError(
            f"Too many sign-in attempts for this e-mail; try again in {minutes} minute(s).",
            code="rate_limited",
        )


class MemberAuthenticationForm(AuthenticationForm):
    """Django's sign-in; on a workspace's host name only that workspace's members may sign in. Attempts per
    e-mail are limited (`QUIRE_SIGN_IN_RATE`), so passwords cannot be guessed at speed. The e-mail is normalised
    once (`email_normalised`) and that one value is both the limit's key and the username signed in with."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The e-mail or password is incorrect.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "E-mail"
        self.fields["username"].widget.attrs["autocomplete"] = "email"

    def clean_username(self) -> str:
        return email_normalised(self.cleaned_data["username"])

    def clean(self) -> dict:
        email = self.cleaned_data.get("username")
        if email:
            sign_in_attempt_counted(email)
        return super().clean()

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        tenant = getattr(self.request, "tenant", None) if self.request else None
        if tenant is not None and not Member.objects.filter(tenant=tenant, user=user).exists():
            raise self.get_invalid_login_error()


class AdminSignInForm(AdminAuthenticationForm):
    """The admin site's sign-in, its attempts counted with the portal's under the same limit and key. The
    username itself is authenticated as Django has it: staff accounts need not be e-mails."""

    def clean(self) -> dict:
        name = email_normalised(self.cleaned_data.get("username") or "")
        if name:
            sign_in_attempt_counted(name)
        return super().clean()


class PasswordSetOrResetForm(PasswordResetForm):
    """Django's password reset, which also mails active people who have no password yet (an owner made by
    `create_tenant`, an invitee whose e-mail went astray): Django leaves them out, and they could never sign
    in. On a workspace's host name (`tenant`) only that workspace's members are mailed, as only they may sign
    in there; on a host with no workspace (the API host, where staff reach the admin site) anyone active is.
    Requests per address are counted whether it has an account or not (`QUIRE_PASSWORD_RESET_RATE`); past
    the limit nobody is mailed. The form answers alike whoever is mailed, so it can neither flood an inbox
    nor tell which addresses have accounts or belong to a workspace."""

    def __init__(self, *args, tenant: Tenant | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def get_users(self, email: str) -> Iterator[AbstractBaseUser]:
        wanted = email_normalised(email)
        limit, period = parse_rate(settings.QUIRE_PASSWORD_RESET_RATE)
        if not hit_sliding(f"password-reset:{wanted}", limit, period)[0]:
            return iter(())
        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        if self.tenant is not None:
            users = users.filter(memberships__tenant=self.tenant)
        return (user for user in users if email_normalised(user.email) == wanted)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, e.g. 'billing sync'.")
    role = forms.ChoiceField(choices=KEY_ROLES, initial=Role.DEVELOPER)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key a name.")
        return name


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One file or several (a dropped folder); cleans to a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        single = super().clean
        if not data:
            return [single(None, initial)]
        return [single(item, initial) for item in (data if isinstance(data, list | tuple) else [data])]


CALL_PERIOD = re.compile(r"Q[1-4] (?:19|20)\d\d")


class CallPeriodForm(forms.Form):
    """An earnings call's period, stored as its documents' metadata `period`, which the earnings connector reads
    before the file name and the text."""

    period = forms.CharField(
        required=False,
        max_length=20,
        label="Earnings call period (optional)",
        help_text="For an earnings call: its quarter, e.g. Q2 2021, typed before the files are dropped or chosen "
        "(a drop or a folder is sent at once). Left empty, it is read from the file name or the transcript.",
    )

    def clean_period(self) -> str:
        period = " ".join(self.cleaned_data["period"].split()).upper()
        if period and not CALL_PERIOD.fullmatch(period):
            raise forms.ValidationError("Write the quarter and its year, e.g. Q2 2021.")
        return period


class DocumentUploadForm(CallPeriodForm):
    field_order = ("file", "period")
    file = MultipleFileField(
        help_text="PDF, Word, Excel and PowerPoint files (DOCX, DOC, XLSX, XLS, PPTX, PPT), OpenDocument (ODT, "
        "ODS, ODP), RTF, e-mail (EML, MSG; an mbox or an Outlook data file, PST, of many), HTML, plain text, a JSON "
        "transcript, scans and photos of pages (PNG, JPEG, TIFF, GIF, BMP, WebP, HEIC); several files, a folder or "
        "a ZIP make one document each, and so do an mbox's messages."
    )


class JobForm(forms.Form):
    connector = forms.ChoiceField(choices=())
    documents = forms.MultipleChoiceField(
        choices=(), widget=forms.CheckboxSelectMultiple, help_text="Only ready documents are listed."
    )
    mode = forms.ChoiceField(choices=MODES, initial="analyzers")
    options = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='Connector options as a JSON object, e.g. {"playbook": [{"category": "Governing Law", "require": "present"}]}. Leave empty for none.',
    )

    def __init__(self, *args, connectors: list[tuple[str, str]], documents: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connector"].choices = connectors
        self.fields["documents"].choices = documents

    def clean_options(self) -> dict:
        raw = self.cleaned_data["options"].strip()
        if not raw:
            return {}
        try:
            value = json_value(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Options must be a JSON object.")
        return value


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class RetentionForm(forms.Form):
    days = forms.IntegerField(
        label="Keep for (days)",
        required=False,
        min_value=1,
        max_value=RETENTION_DAYS_MAX,
        help_text="Documents, finished jobs and webhook events older than this are deleted hourly. Empty: kept.",
    )


# How the portal names each of `common.env.OCR_PICTURES`.
OCR_PICTURES_SHOWN = {
    "textless": "Only when a document has almost no text of its own",
    "always": "Always, beside a document's own text",
    "never": "Never",
}


class ScansForm(forms.Form):
    languages = forms.CharField(label="OCR languages", required=False, max_length=100)
    pictures = forms.ChoiceField(label="Read pictures in Office documents", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        offered = settings.QUIRE_INGEST_OCR_LANGUAGES
        self.fields["languages"].help_text = (
            f"The languages scans are read in, Tesseract's codes joined by '+', of {offered.replace('+', ', ')}. "
            f"Empty: the deployment's ({offered}). A document's metadata.ocr_languages comes first."
        )
        default = OCR_PICTURES_SHOWN[settings.QUIRE_INGEST_OCR_PICTURES].lower()
        self.fields["pictures"].choices = [
            ("", f"As the deployment does ({default})"),
            *((value, OCR_PICTURES_SHOWN[value]) for value in OCR_PICTURES),
        ]
        self.fields["pictures"].help_text = (
            "Pictures in Word documents, RTF, workbooks and decks are read by OCR where they stand, each an OCR "
            "page. A document's metadata.ocr_pictures comes first."
        )

    def clean_languages(self) -> str:
        languages = self.cleaned_data["languages"].strip()
        refused = ocr_languages_refused(languages, settings.QUIRE_INGEST_OCR_LANGUAGES) if languages else None
        if refused is not None:
            raise forms.ValidationError(f"{refused}.")
        return languages


class ReviewForm(forms.Form):
    """A review: documents (or all ready ones), a template and/or own columns, one per line as
    `key | question | type | choice, choice`."""

    all_documents = forms.BooleanField(required=False, label="All ready documents")
    documents = forms.MultipleChoiceField(
        required=False,
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Only ready documents are listed.",
    )
    template = forms.ChoiceField(required=False, choices=())
    columns = forms.CharField(
        required=False,
        label="Own columns",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One per line: key | question | type | choices (for enum, comma-separated; for clause, "
        "the key of one of your clause types). Types: text, clause, date, duration, money, number, percent, "
        "yes_no, party, enum, list.",
    )
    mode = forms.ChoiceField(choices=MODES, initial="analyzers")

    def __init__(self, *args, documents: list[tuple[str, str]], templates: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["documents"].choices = documents
        self.fields["template"].choices = [("", "None: own columns only"), *((t, t) for t in templates)]

    def clean_columns(self) -> list[dict]:
        columns = []
        for number, line in enumerate(self.cleaned_data["columns"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|")]
            if len(parts) < 3:
                raise forms.ValidationError(f"Line {number}: write key | question | type.")
            column = {"key": parts[0], "question": parts[1], "type": parts[2]}
            if len(parts) > 3 and parts[3] and parts[2] == "clause":
                column["clause_type"] = parts[3]
            elif len(parts) > 3 and parts[3]:
                column["choices"] = [choice.strip() for choice in parts[3].split(",") if choice.strip()]
            columns.append(column)
        return columns

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("all_documents") and not data.get("documents"):
            self.add_error("documents", "Pick documents, or all ready documents.")
        if not data.get("template") and not data.get("columns") and "columns" not in self.errors:
            self.add_error("columns", "Pick a template or write at least one column.")
        return data


def _passages(raw: str) -> list[str]:
    return [block.strip() for block in re.split(r"\n\s*\n", raw) if block.strip()]


class ClauseTypeForm(forms.Form):
    key = forms.CharField(max_length=60, help_text="Lower-case letters, digits and _, e.g. force_majeure.")
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, max_length=2000)
    examples = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="At least 10 passages that are this clause, separated by blank lines.",
    )
    counter_examples = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional passages that look alike but are not this clause, separated by blank lines.",
    )

    def clean_examples(self) -> list[str]:
        return _passages(self.cleaned_data["examples"])

    def clean_counter_examples(self) -> list[str]:
        return _passages(self.cleaned_data["counter_examples"])

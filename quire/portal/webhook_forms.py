"""Forms of the webhook pages (apart from `forms.py`: they need the webhooks app)."""

from __future__ import annotations

from django import forms

from quire.webhooks.models import ALL_EVENTS, EVENT_TYPES

GRACE_PERIODS = [
    ("0", "None: the old secret stops now"),
    ("3600", "1 hour"),
    ("86400", "24 hours"),
    ("604800", "7 days"),
]


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="URL", max_length=2048, assume_scheme="https", help_text="Where Quire POSTs events."
    )
    description = forms.CharField(max_length=255, required=False)
    event_types = forms.MultipleChoiceField(
        label="Event types",
        choices=[(ALL_EVENTS, "All events (*)")] + [(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["enabled"]


class RotateSecretForm(forms.Form):
    grace_seconds = forms.ChoiceField(
        label="Old secret keeps signing for", choices=GRACE_PERIODS, initial="86400"
    )

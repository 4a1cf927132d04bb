"""The portal's upload form takes an earnings call's period, stored as the document's metadata `period`, which the
earnings connector reads first."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from quire.documents.models import Document
from tests.support.portal import signed_in


def test_an_upload_stores_the_call_period_it_is_given_and_refuses_a_malformed_one(workspace):
    owner = signed_in(workspace, "owner")
    transcript = SimpleUploadedFile(
        "period-form-call.txt", b"Revenue was $3.1 billion in the quarter the form names.", "text/plain"
    )
    stored = owner.post("/documents", {"file": transcript, "period": " q2  2021 "})
    assert stored.status_code == 302, stored.content
    refused = owner.post(
        "/documents",
        {
            "file": SimpleUploadedFile(
                "period-form-other.txt", b"Margins held in the quarter the form misnames.", "text/plain"
            ),
            "period": "spring",
        },
    )
    assert refused.status_code == 400 and b"Write the quarter and its year, e.g. Q2 2021." in refused.content
    with tenant_context(workspace.tenant):
        assert Document.objects.get(filename="period-form-call.txt").metadata == {"period": "Q2 2021"}
        assert not Document.objects.filter(filename="period-form-other.txt").exists()

"""The job form reads its options as the API reads a JSON body: JSON it cannot keep is a form error naming
why, never a 500, and no job is made."""

from __future__ import annotations

import uuid

import pytest
from django_tenants.utils import tenant_context

from tests.support.portal import signed_in, stored_document


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('{"playbook": ' + "[" * 5000 + "]" * 5000 + "}", "nests 5001 levels deep"),
        ('{"\\ud800": 1}', "lone surrogate \\ud800"),
        ('{"playbook": ' + "9" * 5000 + "}", "is out of range"),
    ],
    ids=["5000-levels", "surrogate-key", "5000-digits"],
)
def test_options_the_api_could_not_read_are_a_form_error(workspace, options: str, message: str):
    from quire.jobs.models import Job

    document = stored_document(workspace, f"form-{uuid.uuid4().hex[:8]}.txt", "Governed by Delaware law.")
    with tenant_context(workspace.tenant):
        jobs = Job.objects.count()
    response = signed_in(workspace, "developer").post(
        "/jobs", {"connector": "legal", "documents": [document.pk], "mode": "analyzers", "options": options}
    )
    assert response.status_code == 400, response.content[:500]
    assert message in response.content.decode()
    with tenant_context(workspace.tenant):
        assert Job.objects.count() == jobs

"""Django's refusals of a request body answer with the /v1 JSON error, never a 500."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.quire.api.test_api_errors import assert_error
from tests.support import Api

pytestmark = pytest.mark.usefixtures("tenant_a")

FIELDS = urlencode([(f"f{i}", "x") for i in range(1001)])


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/search", "/v1/api_keys", "/v1/documents"])
def test_more_than_a_thousand_form_fields_is_400(api_a: Api, path: str):
    response = api_a.post(path, FIELDS, content_type="application/x-www-form-urlencoded")
    if path == "/v1/documents":  # takes JSON or multipart only
        assert_error(response, 415, "unsupported_media_type")
    else:
        assert_error(response, 400, "too_many_fields")


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/documents"])
def test_more_than_a_thousand_multipart_fields_is_400(api_a: Api, path: str):
    data = {f"f{i}": "x" for i in range(1001)}
    response = api_a.client.post(path, data, **api_a._headers(None))
    assert_error(response, 400, "too_many_fields")

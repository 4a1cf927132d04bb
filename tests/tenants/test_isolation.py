"""Two tenants in real schemas: a key of one can never read or list the other's objects."""

from django.db import connection

from tests.support import Api


def test_each_tenant_has_its_own_schema(tenant_a, tenant_b):
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        schemas = {row[0] for row in cursor.fetchall()}
    assert {tenant_a.tenant.schema_name, tenant_b.tenant.schema_name} <= schemas
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension")
        assert "vector" in {row[0] for row in cursor.fetchall()}


def test_documents_do_not_cross_tenants(api_a: Api, api_b: Api):
    created = api_a.post("/v1/documents", {"text": "Alpha's confidential memo.", "filename": "memo.txt"})
    assert created.status_code == 201, created.content
    doc_id = created.json()["id"]
    assert doc_id.startswith("doc_")

    assert api_a.get(f"/v1/documents/{doc_id}").status_code == 200
    response = api_b.get(f"/v1/documents/{doc_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
    assert doc_id not in [d["id"] for d in api_b.get("/v1/documents").json()["data"]]
    assert doc_id in [d["id"] for d in api_a.get("/v1/documents").json()["data"]]


def test_same_bytes_in_two_tenants_are_two_documents(api_a: Api, api_b: Api):
    text = {"text": "Identical content uploaded by two tenants."}
    first, second = api_a.post("/v1/documents", text), api_b.post("/v1/documents", text)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    again = api_a.post("/v1/documents", text)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_api_keys_do_not_cross_tenants(api_a: Api, api_b: Api, tenant_b):
    other_key = tenant_b.issued_key.api_key.id
    assert api_a.get(f"/v1/api_keys/{other_key}").status_code == 404
    assert api_a.delete(f"/v1/api_keys/{other_key}").status_code == 404
    listed = {k["id"] for k in api_a.get("/v1/api_keys").json()["data"]}
    assert other_key not in listed
    assert api_b.get(f"/v1/api_keys/{other_key}").status_code == 200

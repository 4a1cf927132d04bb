"""The job page states each document's context record in words."""

from quire.portal.views.jobs import reading_sentence
from tests.support.portal import job_with_result, signed_in

WHOLE = {
    "document_id": "",
    "strategy": "whole",
    "attention": "block_sparse",
    "tokens_in": 48_210,
    "cached_tokens": 44_353,
    "calls": 41,
    "estimated_cost": {"amount": 0.031, "currency": "usd"},
    "alternative": {"strategy": "rag", "estimated_cost": {"amount": 0.0444, "currency": "usd"}},
}
SENTENCE = (
    "read whole, block-sparse attention, 48,210 tokens, 41 questions, 92 % served from cache, "
    "est. $0.031 (retrieval would have cost $0.044)"
)


def test_the_context_record_in_words():
    assert reading_sentence(WHOLE) == SENTENCE
    assert reading_sentence({"strategy": "analyzers", "calls": 0}) == "read by the analyzers only, no model"


def test_the_job_page_states_the_reading(workspace):
    job_id = job_with_result(
        workspace,
        connector="earnings",
        filename="call.txt",
        mode="model",
        context=lambda document_id: {
            "strategy": "whole",
            "documents": [{**WHOLE, "document_id": document_id}],
        },
    )
    page = signed_in(workspace, "viewer").get(f"/jobs/{job_id}")
    assert page.status_code == 200 and f"call.txt: {SENTENCE}" in page.content.decode()

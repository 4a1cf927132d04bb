"""The comparison of a company's calls on an earnings job's page."""

from django.template.loader import render_to_string

from connectors import Document, run_connector

BEFORE = (
    "Prepared Remarks:\n\nJane Doe: Revenue for the second quarter of 2022 was $500 million. "
    "For the third quarter of 2022, we expect revenue of $520 million to $540 million.\n\n"
    "Questions and Answers:\n\nOperator: Our first question comes from Sam Roe with UBS.\n\n"
    "Sam Roe: How is pricing holding up?\n\nJane Doe: Pricing held up well this quarter."
)
AFTER = (
    "Prepared Remarks:\n\nJane Doe: Revenue for the third quarter of 2022 was $545 million.\n\n"
    "Questions and Answers:\n\nOperator: Next is Sam Roe with UBS.\n\n"
    "Sam Roe: Could you walk us through the inventory correction?\n\nJane Doe: It is behind us now."
)


def test_job_page_shows_periods_figures_guidance_outcome_and_topics():
    result = run_connector("earnings", [Document("ACME_q2_2022", BEFORE), Document("ACME_q3_2022", AFTER)])
    html = render_to_string("portal/partials/earnings_comparison.html", {"comparison": result["comparison"]})
    assert '<th scope="col">Q2 2022</th><th scope="col">Q3 2022</th>' in html
    assert "<q>$500 million</q>" in html and "<q>$545 million</q> <small>+9.0%</small>" in html
    assert (
        '<q>$520 million to $540 million</q></td><td><q>$545 million</q></td><td class="outcome-beat">beat'
        in html
    )
    assert "new inventory; gone pricing" in html


def test_calls_without_figures_say_so_under_the_table_header():
    quiet = "Prepared Remarks:\n\nJane Doe: Thank you all for joining us today.\n\n"
    result = run_connector(
        "earnings", [Document("ACME_q2_2022", quiet), Document("ACME_q3_2022", quiet + "Bye.")]
    )
    assert result["comparison"]["metrics"] == []
    html = render_to_string("portal/partials/earnings_comparison.html", {"comparison": result["comparison"]})
    assert '<td colspan="3" class="empty" data-no-figures>No figures were read in these calls.</td>' in html

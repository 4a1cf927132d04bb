"""Built-in review templates: CUAD's 41 categories, earnings KPIs, paper extraction."""

from __future__ import annotations

import re

from connectors.legal.categories import CUAD_CATEGORIES, YES_NO_CATEGORIES

_CUAD_TYPES = {
    "Document Name": "text",
    "Parties": "party",
    "Agreement Date": "date",
    "Effective Date": "date",
    "Expiration Date": "date",
    "Renewal Term": "duration",
    "Notice Period To Terminate Renewal": "duration",
    "Governing Law": "text",
}
_CUAD_QUESTIONS = {
    "Document Name": "What is the name of the contract?",
    "Parties": "Who are the parties to the contract?",
    "Agreement Date": "When was the contract signed?",
    "Effective Date": "When does the contract take effect?",
    "Expiration Date": "When does the initial term expire?",
    "Renewal Term": "How long is a renewal term?",
    "Notice Period To Terminate Renewal": "How much notice is needed to stop a renewal?",
    "Governing Law": "Which law governs the contract?",
}


def cuad_key(category: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")


CUAD_KEYS: dict[str, str] = {cuad_key(category): category for category in CUAD_CATEGORIES}

CUAD = [
    {
        "key": cuad_key(category),
        "question": _CUAD_QUESTIONS.get(category, f"Does the contract have a {category} clause?"),
        "type": "yes_no" if category in YES_NO_CATEGORIES else _CUAD_TYPES[category],
    }
    for category in CUAD_CATEGORIES
]

# The earnings analyzers' metric names a figure must carry to fill the column, the one its question asks for
# first ("What was adjusted EBITDA?": adjusted EBITDA, else EBITDA).
EARNINGS_METRICS: dict[str, tuple[str, ...]] = {
    "revenue": ("revenue",),
    "revenue_growth": ("revenue",),
    "eps": ("eps",),
    "adjusted_eps": ("adjusted_eps",),
    "gross_margin": ("gross_margin",),
    "operating_margin": ("operating_margin",),
    "net_income": ("net_income",),
    "ebitda": ("adjusted_ebitda", "ebitda"),
    "free_cash_flow": ("free_cash_flow",),
    "ffo": ("ffo",),
    "same_store_sales": ("same_store_sales",),
    "guidance_revenue": ("revenue",),
    "guidance_eps": ("eps", "adjusted_eps"),
}
EARNINGS_KPIS = [
    {"key": "revenue", "question": "What was total revenue for the quarter?", "type": "money"},
    {"key": "revenue_growth", "question": "By what percent did revenue grow?", "type": "percent"},
    {"key": "eps", "question": "What were diluted earnings per share?", "type": "money"},
    {"key": "adjusted_eps", "question": "What was adjusted (non-GAAP) EPS?", "type": "money"},
    {"key": "gross_margin", "question": "What was the gross margin?", "type": "percent"},
    {"key": "operating_margin", "question": "What was the operating margin?", "type": "percent"},
    {"key": "net_income", "question": "What was net income?", "type": "money"},
    {"key": "ebitda", "question": "What was adjusted EBITDA?", "type": "money"},
    {"key": "free_cash_flow", "question": "How much free cash flow was generated?", "type": "money"},
    {"key": "ffo", "question": "What were funds from operations (FFO) per share?", "type": "money"},
    {
        "key": "same_store_sales",
        "question": "How much did same-store (comparable) sales change?",
        "type": "percent",
    },
    {
        "key": "guidance_revenue",
        "question": "What revenue does the company expect (guidance, outlook)?",
        "type": "money",
    },
    {
        "key": "guidance_eps",
        "question": "What EPS does the company expect (guidance, outlook)?",
        "type": "money",
    },
    {"key": "guidance", "question": "What is the outlook or guidance for the next period?", "type": "text"},
]
# The type the built-in analyzers answer a key of theirs in: its template's. A column declaring another type
# (text aside) is read by its type like any other column.
BUILT_IN_TYPES: dict[str, str] = {column["key"]: column["type"] for column in (*CUAD, *EARNINGS_KPIS)}
PAPER_EXTRACTION = [
    {
        "key": "population",
        "question": "Which population, patients or participants were studied?",
        "type": "text",
    },
    {
        "key": "intervention",
        "question": "What intervention, treatment or exposure was tested?",
        "type": "text",
    },
    {"key": "comparator", "question": "What was the comparator, control or placebo group?", "type": "text"},
    {"key": "outcome", "question": "What outcome or endpoint was measured?", "type": "text"},
    {
        "key": "sample_size",
        "question": "How many participants, patients or subjects were in the sample?",
        "type": "number",
    },
    {"key": "main_finding", "question": "What was the main finding, result or conclusion?", "type": "text"},
]
TEMPLATES: dict[str, list[dict]] = {
    "cuad": CUAD,
    "earnings_kpis": EARNINGS_KPIS,
    "paper_extraction": PAPER_EXTRACTION,
}

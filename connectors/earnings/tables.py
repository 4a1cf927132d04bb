"""The vocabulary of earnings figures: scale words, metric names, number and range patterns, units."""

from __future__ import annotations

import re

SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "mln": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "bln": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
# Ordered: the first metric whose pattern matches nearest before a number names it.
METRICS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "adjusted_eps",
            r"\b(?:adjusted|adj\.?|non-gaap|core|operating|comparable|diluted adjusted)\s+(?:(?:fully\s+)?diluted\s+)?(?:earnings|eps|income|loss|net income|net loss)\s+(?:from continuing operations\s+)?per\s+(?:(?:fully\s+)?diluted\s+)?(?:common\s+)?share\b|\badjusted\s+(?:diluted\s+)?d?eps\b|\bnon-gaap\s+(?:diluted\s+)?d?eps\b"
            r"|\b(?:adjusted|non-gaap)\s+(?:(?:net|diluted|first|second|third|fourth|quarter|full[- ]year)\s+){1,3}"
            r"(?:earnings|income|loss)\s+per\s+(?:(?:fully\s+)?diluted\s+)?(?:common\s+)?share\b",
        ),
        (
            "eps",
            r"\b(?:diluted\s+|gaap\s+|basic\s+)?(?:earnings|eps|income|loss|net income|net loss)\s+(?:from continuing operations\s+)?per\s+(?:(?:fully\s+)?diluted\s+|basic\s+)?(?:common\s+)?share\b|\b(?:gaap\s+|diluted\s+)?d?eps\b",
        ),
        ("adjusted_ebitda_margin", r"\badjusted\s+ebitda\s+margins?\b"),
        ("ebitda_margin", r"\bebitda\s+margins?\b"),
        ("adjusted_ebitda", r"\badjusted\s+ebitda\b"),
        ("ebitda", r"\bebitda\b"),
        ("gross_margin", r"\bgross\s+(?:profit\s+)?margins?\b"),
        (
            "operating_margin",
            r"\b(?:adjusted\s+|non-gaap\s+)?operating\s+(?:profit\s+|income\s+)?margins?\b|\b(?:ebit|segment)\s+margins?\b",
        ),
        ("net_margin", r"\bnet\s+(?:income\s+|profit\s+)?margins?\b"),
        ("free_cash_flow", r"\bfree\s+(?:operating\s+)?cash\s+flows?(?:\s+from\s+operations)?\b"),
        (
            "operating_cash_flow",
            r"\b(?:cash\s+(?:flow\s+)?(?:from|provided by|generated (?:by|from))\s+operati\w+|operating\s+cash\s+flows?)\b",
        ),
        ("adjusted_net_income", r"\b(?:adjusted|non-gaap|core)\s+net\s+(?:income|earnings|loss)\b"),
        ("net_income", r"\bnet\s+(?:income|earnings|loss|profit)\b"),
        ("adjusted_operating_income", r"\b(?:adjusted|non-gaap)\s+operating\s+(?:income|profit|earnings)\b"),
        ("operating_income", r"\boperating\s+(?:income|profit|earnings|loss)\b|\bebit\b"),
        ("gross_profit", r"\bgross\s+profit\b"),
        (
            "same_store_sales",
            r"\b(?:(?:same|comparable|comp)[- ](?:store|restaurant|unit|property|center|shop|branch)s?|comp(?:arable)?|"
            r"like-for-like)\s+(?:sales|revenues?|growth|NOI)\b|\bcomps\b",
        ),
        (
            "capex",
            r"\bcap(?:ital)?\s*ex(?:penditures?)?\b|\bcapital\s+(?:spending|outlays?|budget|investments?)\b"
            r"|\b(?:maintenance|growth|sustaining)\s+capital\b|\bcapital\s+(?:additions|programs?|plans?)\b",
        ),
        ("dividend", r"\bdividends?\b"),
        (
            "share_repurchase",
            r"\b(?:(?:share|stock)\s+(?:(?:re)?purchases?|buybacks?)|buybacks?|repurchased|repurchase\s+up\s+to)\b"
            r"|\b(?:re)?purchased\s+(?:approximately\s+|about\s+)?[\d.,]+\s*(?:million\s+|thousand\s+)?"
            r"(?:of\s+(?:our|its)\s+)?(?:common\s+)?shares\b",
        ),
        ("backlog", r"\bbacklog\b"),
        ("net_written_premiums", r"\bnet\s+(?:written\s+)?premiums?(?:\s+written)?\b"),
        ("gross_written_premiums", r"\bgross\s+written\s+premiums?\b|\bgross\s+premiums?\s+written\b"),
        ("catastrophe_losses", r"\b(?:catastrophe|cat)\s+losses\b"),
        (
            "special_charges",
            r"\b(?:forward[- ]loss(?:es)?|impairments?|restructuring\s+(?:charges?|costs?)|(?:one-time|special|non-recurring)\s+charges?)\b",
        ),
        ("arr", r"\b(?:annual(?:ized)?\s+recurring\s+revenues?|ARR)\b"),
        ("subscribers", r"\b(?:subscribers|subscriptions|paid\s+(?:members|memberships))\b"),
        (
            "bookings",
            r"\b(?:bookings|(?<!backlog of )(?<!backlog of new )orders|order intake|(?:new|net)\s+awards)\b",
        ),
        (
            "deliveries",
            r"\b(?:home\s+|vehicle\s+|aircraft\s+|unit\s+)?deliveries\b|\bhomes\s+(?:closed|delivered|sold)\b|\bclosings\b",
        ),
        ("liquidity", r"\b(?:total\s+|available\s+)?liquidity\b"),
        (
            "assets_under_management",
            r"\b(?:assets\s+under\s+(?:management|administration)|AUM|AUA)\b",
        ),
        ("net_flows", r"\bnet\s+(?:(?:long-term|new|client|organic)\s+){0,2}(?:in|out)?flows?\b"),
        (
            "credit_loss_provision",
            r"\bprovisions?\s+for\s+(?:credit|loan)\s+loss(?:es)?\b|\b(?:credit|loan)[- ]loss\s+provisions?\b"
            r"|\b(?:credit\s+)?provision(?:\s+expense)?\b(?!\s+for\s+(?!credit|loan))",
        ),
        ("net_charge_off_ratio", r"\bnet\s+(?:loan\s+)?charge[- ]off\s+(?:ratio|rate)s?\b"),
        ("net_charge_offs", r"\bnet\s+(?:loan\s+)?charge[- ]offs\b|\bNCOs\b"),
        ("payout_ratio", r"\bpayout\s+ratios?\b"),
        ("medical_care_ratio", r"\bmedical\s+(?:care|loss|cost|benefits?)\s+ratios?\b|\bMLR\b|\bMCR\b"),
        ("churn", r"\b(?:postpaid\s+|phone\s+|customer\s+)?churn(?:\s+rate)?\b"),
        ("average_selling_price", r"\baverage\s+(?:selling|sales|sale)\s+prices?\b|\bASPs?\b"),
        (
            "cost_savings",
            r"\b(?:cost|expense)\s+savings\b|\b(?:gross|annual(?:ized)?|run-rate|targeted)\s+(?:[\w-]+\s+){0,3}savings\b",
        ),
        ("sga", r"\bSG&A\b|\bselling,?\s+general\s+(?:and|&)\s+administrative\s+(?:expenses?|costs?)\b"),
        ("g_and_a", r"\bG&A\b|\bgeneral\s+(?:and|&)\s+administrative\s+(?:expenses?|costs?)\b"),
        ("inventory", r"\binventor(?:y|ies)\b"),
        ("rent_collection", r"\b(?:rents?\s+)?collect(?:ed|ions?)(?:\s+rates?)?\b"),
        ("total_assets", r"\btotal\s+assets\b"),
        ("combined_ratio", r"\bcombined\s+ratios?\b"),
        ("operating_ratio", r"\boperating\s+ratios?\b"),
        ("efficiency_ratio", r"\befficiency\s+ratios?\b"),
        (
            "capital_ratio",
            r"\b(?:CET1|CET\s+1|common\s+equity\s+tier\s+(?:1|one)|tier\s+(?:1|one)|total)\s+(?:capital\s+|leverage\s+)?ratios?\b",
        ),
        ("load_factor", r"\bload\s+factors?\b"),
        ("occupancy", r"\b(?:occupancy|occupancy\s+rates?)\b"),
        (
            "cash",
            r"\b(?:unrestricted\s+)?cash(?:,?\s+(?:and\s+)?cash\s+equivalents)?"
            r"(?:,?\s+(?:and|&)\s+(?:restricted\s+cash|short-term\s+investments|investments|marketable\s+securities))?"
            r"(?:\s+on\s+hand|\s+balances?|\s+position)?\b"
            r"(?!\s*(?:flows?|taxes|tax|rental|rents?|basis|dividends?|distributions?|from|used|generated|provided|"
            r"collections?|payments?|costs?|rates?|returns?|earnings|margins?|compensation|contributions?|outflows?|"
            r"inflows?|burn|interest|charges?|portion|settlements?|considerations?|conversion|paid|received|"
            r"expenses?|spend\w*|savings|NOI|EPS|income|gains?|losses|proceeds)\b)",
        ),
        ("net_interest_income", r"\bnet\s+interest\s+income\b"),
        ("net_interest_margin", r"\bnet\s+interest\s+margin\b"),
        ("book_value_per_share", r"\bbook\s+value\s+per\s+(?:common\s+|diluted\s+)?share\b"),
        ("ffo", r"\b(?:core\s+|adjusted\s+|normalized\s+)?(?:a?ffom?|funds from operations)\b"),
        ("tax_rate", r"\b(?:effective\s+)?tax\s+rate\b"),
        (
            "revenue",
            r"\b(?:total\s+|net\s+|consolidated\s+|gaap\s+|adjusted\s+|quarterly\s+|organic\s+)?(?:revenues?|sales|top[- ]line|turnover)\b"
            r"(?!\s+(?:inducements?|force|teams?|tax(?:es)?|people|reps?|representatives|cycles?|pipeline|channels?))"
            r"|\borganic\s+growth\b",
        ),
    )
)
_PER_SHARE = r"(?:per|a) (?:(?:fully )?diluted )?(?:common )?share"
# Currencies: ISO codes said before or after an amount ("EUR 3.4 billion", "30 million GBP"), the letters before
# a dollar sign ("C$1.2 billion", "A$", "US$"), the signs, and currencies named after an amount ("3.4 billion
# euros", "250 million Canadian dollars").
CURRENCY_CODES = (
    *(
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CHF",
        "CAD",
        "AUD",
        "NZD",
        "CNY",
        "HKD",
        "SGD",
        "INR",
        "SEK",
        "NOK",
        "DKK",
    ),
    *("BRL", "MXN", "ZAR", "KRW", "PLN", "CZK", "HUF", "TRY", "ILS", "AED", "SAR"),
)
DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "BRL"})
DOLLAR_PREFIXES = {
    **{code: code for code in DOLLAR_CURRENCIES},
    **{"US": "USD", "U.S.": "USD", "C": "CAD", "CA": "CAD", "A": "AUD", "AU": "AUD", "NZ": "NZD"},
    **{"HK": "HKD", "S": "SGD", "SG": "SGD", "MX": "MXN", "R": "BRL"},
}
CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
# The signs as a regular expression's character class: `[{SIGNS}]`.
SIGNS = "".join(CURRENCY_SIGNS)
# The minus signs a negative number is written with: the hyphen-minus and the typographic "\u2212".
MINUS = "-\u2212"
CURRENCY_NAMES = {
    "USD": r"(?:US|U\.S\.)\s+dollars?",
    "CAD": r"Canadian\s+dollars?",
    "AUD": r"Australian\s+dollars?",
    "NZD": r"New\s+Zealand\s+dollars?",
    "HKD": r"Hong\s+Kong\s+dollars?",
    "SGD": r"Singapore\s+dollars?",
    "EUR": r"euros?",
    "GBP": r"pounds?\s+sterling",
    "JPY": r"yen",
    "CHF": r"Swiss\s+francs?",
    "CNY": r"(?:yuan|renminbi)",
    "INR": r"rupees?",
}
_CURRENCY_BEFORE = (
    rf"(?-i:(?<![A-Za-z])(?:{'|'.join(re.escape(p) for p in sorted(DOLLAR_PREFIXES, key=len, reverse=True))})\$"
    rf"|[{SIGNS}]|(?<![A-Za-z])(?:{'|'.join(CURRENCY_CODES)})(?:\s|(?=\d)))"
)
_CURRENCY_AFTER = rf"(?-i:{'|'.join(CURRENCY_CODES)})\b|(?:{'|'.join(CURRENCY_NAMES.values())})\b"
# Digits are read in bounded groups (up to 15 before the point, 15 after, five thousands groups), and never
# from inside a longer run of digits, so that a range over a long run of digits is not tried from every digit.
# A number is negative after a minus sign ("-", or the typographic "\u2212") or word, or in accounting's brackets, which close right after its
# digits: "(0.12)", "$(0.12)", "($0.12)", "(1.3)%", "$(15) million". A bracket that holds more than the number
# opens an aside, "($1.0 billion last year)", "(5% of Net Sales)", "($1.0 billion)": those numbers are positive.
_NUMBER = (
    rf"(?:(?P<neg>(?<![A-Za-z])[{MINUS}]|minus\s+|negative\s+)|(?P<open>\())?(?:(?P<currency>{_CURRENCY_BEFORE})\s?(?P<copen>\()?)?"
    r"(?P<value>(?<!\d)(?:\d{1,3}(?:,\d{3}){1,5}|\d{1,15}(?!\d))(?:\.\d{1,15})?)(?(open)\))(?(copen)\))"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bln|mln|bn|mm|mn|[kmb])\b)?"
    rf"(?:\s?(?P<currency_after>{_CURRENCY_AFTER}))?"
    rf"(?:\s?(?P<unit>%|percentage points?|percent|per\s?cent|basis points?|bps|dollars?(?:\s{_PER_SHARE})?|cents?|{_PER_SHARE}))?"
)
NUMBER = re.compile(_NUMBER, re.IGNORECASE)


def _end_of_range(prefix: str) -> str:
    return _NUMBER.replace("(?P<", f"(?P<{prefix}").replace("(?(", f"(?({prefix}")


RANGE = re.compile(
    rf"(?:between\s+)?(?P<low>{_end_of_range('l_')})\s*(?:and\s+to|to|-|and|through)\s*\+?(?P<high>{_end_of_range('h_')})",
    re.IGNORECASE,
)
# Percentage points and basis points only ever measure a change: "gross margin expanded 50 basis points".
POINTS_UNITS = ("basis_points", "percentage_points")
CURRENCY_UNITS = CURRENCY_CODES
# Nouns that name a count only right beside its number ("5,400 customers", "close approximately 75 stores"), never
# a metric for other figures of their sentence.
COUNT_NOUNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("customers", r"\b(?:customers|clients|accounts)\b"),
        ("stores", r"\b(?:stores|restaurants|locations|salons|clinics|branches)\b"),
        (
            "volume",
            r"\b(?:barrels|boe(?:pd|/d)?|bpd|b/d|mboe(?:pd|/d)?|mmboe|bcfe?|mmcfe?(?:/d|pd)?|mcfe|tons|tonnes|ounces|"
            r"gallons|square\s+feet)\b",
        ),
    )
)
# Metrics counted in units, whose bare numbers ("21,588 homes closed") are figures when the metric's noun is
# right beside them.
COUNT_METRICS = ("subscribers", "deliveries", *(name for name, _ in COUNT_NOUNS))
# Ratios and rates stated as a percentage of something else; a change word before one still leaves a level
# ("the combined ratio improved to 93.4%").
RATIO_METRICS = (
    "tax_rate",
    "capital_ratio",
    "combined_ratio",
    "operating_ratio",
    "efficiency_ratio",
    "load_factor",
    "occupancy",
    "net_charge_off_ratio",
    "payout_ratio",
    "medical_care_ratio",
    "churn",
    "rent_collection",
)
PERCENT_METRICS = (*RATIO_METRICS, "same_store_sales", "net_interest_margin")
# Metrics named after the metric classifier's weights were trained: it never saw them as the rules' metric and
# reads them as the metric their words resemble ("cash of $1.4 billion" as revenue), so it does not override them.
UNSEEN_BY_CLASSIFIER = frozenset(
    {
        "deliveries",
        "liquidity",
        "assets_under_management",
        "net_flows",
        "credit_loss_provision",
        "total_assets",
        "cash",
        "net_charge_offs",
        "average_selling_price",
        "cost_savings",
        "sga",
        "g_and_a",
        "inventory",
        *(name for name in RATIO_METRICS if name != "tax_rate"),
        *(name for name, _ in COUNT_NOUNS),
    }
)
PER_SHARE_METRICS = ("eps", "adjusted_eps", "book_value_per_share", "ffo", "dividend")
# Metrics whose loss is a negative value of the metric: a net loss is negative net income.
INCOME_METRICS = frozenset(
    {
        "eps",
        "adjusted_eps",
        "net_income",
        "adjusted_net_income",
        "operating_income",
        "adjusted_operating_income",
        "ebitda",
        "adjusted_ebitda",
        "gross_profit",
    }
)


def currency_of(match: re.Match[str], prefix: str = "") -> str | None:
    """The currency code a NUMBER match names before or after its digits ("C$" is CAD, "euros" EUR), or None."""
    before = (match.group(prefix + "currency") or "").strip()
    after = (match.group(prefix + "currency_after") or "").strip()
    if before in CURRENCY_SIGNS:
        return CURRENCY_SIGNS[before]
    if before:
        return DOLLAR_PREFIXES[before[:-1]] if before.endswith("$") else before
    if after in CURRENCY_CODES:
        return after
    if after:
        return next(
            code for code, words in CURRENCY_NAMES.items() if re.fullmatch(words, after, re.IGNORECASE)
        )
    return None


def per_share_unit(currency: str) -> str:
    """The unit of an amount per share in `currency` ("USD_per_share"); an amount per share stays as it is."""
    return currency if is_per_share(currency) else f"{currency}_per_share"


def is_per_share(unit: str) -> bool:
    return unit.endswith("_per_share")


def parse_number(match: re.Match[str], prefix: str = "") -> tuple[float, str, float]:
    """(value, unit, scale) of a NUMBER match; `prefix` names the groups of a range end (l_ or h_). An amount
    per share is in its own currency ("€0.45 per share" is EUR_per_share), in dollars when it names none."""
    group = lambda name: match.group(prefix + name)
    value = float(group("value").replace(",", ""))
    unit_text = (group("unit") or "").lower()
    currency = currency_of(match, prefix)
    scale_text = (group("scale") or "").lower()
    scale = SCALES.get(scale_text, 1.0)
    if unit_text in ("%", "percent", "per cent", "percent"):
        unit = "percent"
    elif unit_text.startswith("percentage point"):
        unit = "percentage_points"
    elif unit_text.startswith("basis point") or unit_text == "bps":
        unit = "basis_points"
    elif unit_text.startswith("dollar"):
        unit = "USD_per_share" if unit_text.endswith("share") else "USD"
    elif unit_text.startswith("cent"):
        unit, value = "USD_per_share", value / 100
    elif unit_text.startswith(("per", "a ")):
        unit = per_share_unit(currency or "USD")
    elif currency:
        unit = currency
    else:
        unit = "count"
    if group("neg") or group("open") or group("copen"):
        value = -value
    return value, unit, scale


def fits_unit(metric: str, unit: str) -> bool:
    """Whether a figure in `unit` can measure `metric` (a margin is a percentage, EPS an amount per share)."""
    if metric in PER_SHARE_METRICS:
        return unit in CURRENCY_UNITS or is_per_share(unit)
    if metric in COUNT_METRICS:
        return unit == "count"
    if metric.endswith("margin") or metric in PERCENT_METRICS:
        return unit in ("percent", "basis_points", "percentage_points")
    return unit in (*CURRENCY_UNITS, "count")

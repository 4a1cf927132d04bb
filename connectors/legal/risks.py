"""Risk summary for a contract: missing protective clauses, unusual terms and a tenant's playbook checks."""

from __future__ import annotations

import re

from connectors.base import Document, OptionError
from connectors.dates import duration_day_range, duration_days
from connectors.legal.analyzers import canonical_jurisdiction
from connectors.legal.categories import CUAD_CATEGORIES

SEVERITIES = ("high", "medium", "low")
SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(SEVERITIES)}
DURATION_ANSWERS = ("Renewal Term", "Notice Period To Terminate Renewal")
VALUE_ANSWERS = ("Governing Law", "Effective Date", "Expiration Date", *DURATION_ANSWERS)
PLAYBOOK_KEYS = {"id", "category", "require", "allowed", "max_days", "min_days", "severity", "message"}

MISSING_PROTECTIONS = (
    (
        "Cap On Liability",
        "no_liability_cap",
        "high",
        "No limitation of liability was found: exposure may be unlimited.",
    ),
    ("Governing Law", "no_governing_law", "medium", "No governing-law clause was found."),
    ("Anti-Assignment", "no_assignment_restriction", "low", "Nothing restricts assignment of the contract."),
)
UNUSUAL_TERMS = (
    (
        "Uncapped Liability",
        "uncapped_liability",
        "high",
        "Some liability is carved out of the cap (uncapped).",
    ),
    (
        "Liquidated Damages",
        "liquidated_damages",
        "medium",
        "The contract fixes liquidated damages or a termination fee.",
    ),
    ("Non-Compete", "non_compete", "medium", "A non-compete restricts a party's business."),
    ("Exclusivity", "exclusivity", "medium", "An exclusivity commitment binds a party."),
    (
        "Most Favored Nation",
        "most_favored_nation",
        "low",
        "A most-favoured-nation pricing or terms commitment.",
    ),
    (
        "Irrevocable Or Perpetual License",
        "perpetual_license",
        "low",
        "A licence is irrevocable or perpetual.",
    ),
    (
        "Covenant Not To Sue",
        "covenant_not_to_sue",
        "low",
        "A party gives up the right to sue or to challenge IP.",
    ),
    (
        "Change Of Control",
        "change_of_control",
        "low",
        "A change of control triggers rights (termination, consent).",
    ),
)
LONG_RENEWAL_NOTICE_DAYS = 90


def validate_playbook(playbook: object) -> list[dict]:
    """Checked playbook rules; OptionError naming the rule and field (`options.playbook.2.max_days`) for anything
    malformed."""
    if playbook is None:
        return []
    if not isinstance(playbook, list):
        raise OptionError("playbook must be a list of rules", "options.playbook")
    rules: list[dict] = []
    for index, rule in enumerate(playbook):
        where, param = f"playbook[{index}]", f"options.playbook.{index}"
        if not isinstance(rule, dict):
            raise OptionError(f"{where} must be an object", param)
        unknown = set(rule) - PLAYBOOK_KEYS
        if unknown:
            raise OptionError(
                f"{where} has unknown field(s): {', '.join(sorted(unknown))}", f"{param}.{min(unknown)}"
            )
        category = rule.get("category")
        if category not in CUAD_CATEGORIES:
            raise OptionError(
                f"{where}.category must be a CUAD category name, got {category!r}", f"{param}.category"
            )
        checks = [key for key in ("require", "allowed", "max_days", "min_days") if key in rule]
        if not checks:
            raise OptionError(f"{where} needs one of require, allowed, max_days, min_days", param)
        if "require" in rule and rule["require"] not in ("present", "absent"):
            raise OptionError(f"{where}.require must be 'present' or 'absent'", f"{param}.require")
        if "allowed" in rule:
            allowed = rule["allowed"]
            if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) for a in allowed):
                raise OptionError(f"{where}.allowed must be a non-empty list of strings", f"{param}.allowed")
            if category not in VALUE_ANSWERS:
                raise OptionError(
                    f"{where}.allowed only applies to {', '.join(VALUE_ANSWERS)}", f"{param}.allowed"
                )
        for key in ("max_days", "min_days"):
            if key in rule:
                if category not in DURATION_ANSWERS:
                    raise OptionError(
                        f"{where}.{key} only applies to {', '.join(DURATION_ANSWERS)}", f"{param}.{key}"
                    )
                if not isinstance(rule[key], int | float) or rule[key] < 0:
                    raise OptionError(
                        f"{where}.{key} must be a non-negative number of days", f"{param}.{key}"
                    )
        severity = rule.get("severity", "medium")
        if severity not in SEVERITIES:
            raise OptionError(f"{where}.severity must be one of {', '.join(SEVERITIES)}", f"{param}.severity")
        code = rule.get("id") or f"playbook_{re.sub(r'[^a-z0-9]+', '_', category.lower()).strip('_')}"
        rules.append({**rule, "id": str(code), "severity": severity})
    return rules


def _first_span(clauses: list[dict], category: str) -> dict | None:
    spans = [c["span"] for c in clauses if c["category"] == category]
    return spans[0] if spans else None


def _risk(document: Document, code: str, severity: str, message: str, span: dict | None) -> dict:
    return {
        "code": code,
        "severity": severity,
        "message": message,
        "span": span,
        "document_id": document.document_id,
    }


def _playbook_findings(
    clauses: list[dict], answers: dict, rule: dict, check: dict | None = None
) -> list[str]:
    """What breaks `rule`: from the model's check of it when there is one, else from the clauses and
    answers."""
    category = rule["category"]
    present = check["present"] if check else any(c["category"] == category for c in clauses)
    findings: list[str] = []
    if rule.get("require") == "present" and not present:
        findings.append(f"{category} must be present but was not found")
    if rule.get("require") == "absent" and present:
        findings.append(f"{category} must not appear but was found")
    answer = check["answer"] if check else answers.get(category)
    if (
        "allowed" in rule
        and present
        and (not isinstance(answer, str) or not _allowed(category, answer, rule["allowed"]))
    ):
        findings.append(f"{category} is {answer or 'unknown'}; allowed: {', '.join(rule['allowed'])}")
    # A duration in months or years breaks a limit in days only where every calendar reading of it does: twelve
    # months are 365 or 366 days, never under a 365-day minimum.
    span = duration_day_range(answer) if isinstance(answer, str) else None
    if "max_days" in rule and span is not None and span[0] > rule["max_days"]:
        findings.append(
            f"{category} is {answer} (at least {span[0]:.0f} days), above the {rule['max_days']}-day limit"
        )
    if "min_days" in rule and span is not None and span[1] < rule["min_days"]:
        findings.append(
            f"{category} is {answer} (at most {span[1]:.0f} days), below the {rule['min_days']}-day minimum"
        )
    return findings


def assess_risks(
    document: Document,
    clauses: list[dict],
    answers: dict,
    playbook: list[dict],
    include_defaults: bool = True,
    checks: dict[str, dict] | None = None,
) -> list[dict]:
    """Risks sorted high to low severity; each names a code, a message and the span it rests on (or None).
    A playbook rule the model checked (`checks`, by rule id) is decided by its check and rests on the
    clause it quoted (`source: "model"`); the others by the clauses and answers (`source: "rules"`)."""
    risks: list[dict] = []
    if document.text.strip() and include_defaults:
        for category, code, severity, message in MISSING_PROTECTIONS:
            if not any(c["category"] == category for c in clauses):
                risks.append(_risk(document, code, severity, message, None))
        for category, code, severity, message in UNUSUAL_TERMS:
            span = _first_span(clauses, category)
            if span:
                risks.append(_risk(document, code, severity, message, span))
        notice_days = duration_days(answers.get("Notice Period To Terminate Renewal") or "")
        notice_span = duration_day_range(answers.get("Notice Period To Terminate Renewal") or "")
        if answers.get("Renewal Term") and notice_span and notice_span[0] > LONG_RENEWAL_NOTICE_DAYS:
            risks.append(
                _risk(
                    document,
                    "long_renewal_notice",
                    "medium",
                    f"The contract renews automatically and non-renewal needs {notice_days:.0f} days' notice.",
                    _first_span(clauses, "Notice Period To Terminate Renewal"),
                )
            )
    for rule in playbook:
        check = (checks or {}).get(rule["id"])
        span = check["span"] if check else _first_span(clauses, rule["category"])
        for finding in _playbook_findings(clauses, answers, rule, check):
            risks.append(
                {
                    **_risk(document, rule["id"], rule["severity"], rule.get("message") or finding, span),
                    "playbook": True,
                    "detail": finding,
                    "source": "model" if check else "rules",
                }
            )
    return sorted(risks, key=lambda r: SEVERITY_ORDER[r["severity"]])


def _allowed(category: str, answer: str, allowed: list[str]) -> bool:
    """Whether the answer is one of the allowed values, case aside; jurisdictions by their canonical name, so
    "Ontario" allows "Ontario, Canada" and "PRC" allows "People's Republic of China"."""
    if category == "Governing Law":
        return canonical_jurisdiction(answer).lower() in {canonical_jurisdiction(a).lower() for a in allowed}
    return answer.lower() in {a.lower() for a in allowed}

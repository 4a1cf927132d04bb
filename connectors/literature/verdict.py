"""Claim verdicts from rationale sentences: similarity decides relevance, contrast cues decide the label.

A relevant rationale contradicts the claim when an odd number of contrasts separate them: opposite
directions (increase / decrease, more / less, vulnerable / resistant ...), different negation parity,
"no effect" findings against a claimed effect, or numbers the claim states that the evidence does not.
"""

from __future__ import annotations

import re

NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|without|lack(?:s|ed|ing)?|absence|absent|fail(?:s|ed)?|unable|cannot|none|"
    r"unaffected|unchanged)\b|n't\b",
    re.IGNORECASE,
)
NO_EFFECT = re.compile(
    r"\b(?:no (?:\w+ ){0,2}(?:effect|difference|association|change|benefit|correlation|relationship|evidence)|"
    r"did not (?:differ|change|affect|alter|improve|reduce|increase|influence)|"
    r"not (?:significantly )?(?:associated|different|related|correlated|affected)|"
    r"(?:was|were) similar|comparable between|non-?significant|insignificant)\b",
    re.IGNORECASE,
)
ANTONYMS: tuple[tuple[str, str], ...] = (
    (
        r"increas\w*|higher|elevat\w*|rais\w*|rise[sn]?|rising|gain\w*|more|greater|larger|exceed\w*|upregulat\w*|up-regulat\w*",
        r"decreas\w*|lower\w*|reduc\w*|declin\w*|fewer|less|smaller|drop\w*|downregulat\w*|down-regulat\w*|diminish\w*",
    ),
    (
        r"promot\w*|enhanc\w*|activat\w*|induc\w*|stimulat\w*|potentiat\w*|accelerat\w*|facilitat\w*",
        r"inhibit\w*|suppress\w*|repress\w*|block\w*|prevent\w*|impair\w*|attenuat\w*|slow\w*|abolish\w*|delay\w*",
    ),
    (
        r"vulnerab\w*|susceptib\w*|risk\w*|harm\w*|worse\w*|detriment\w*",
        r"resistan\w*|protect\w*|benefi\w*|better|improv\w*|safe\w*",
    ),
    (r"positive\w*|direct\w*", r"negative\w*|inverse\w*"),
    (
        r"required|necessary|essential|needed|depend\w*",
        r"dispensable|unnecessary|independent\w*|not required",
    ),
    (
        r"abundant|common|frequent\w*|prevalent|expand\w*|enrich\w*",
        r"scarce|rare|infrequent\w*|uncommon|deplet\w*",
    ),
    (r"effective|efficacious|successful", r"ineffective|unsuccessful|futile"),
)
DIRECTIONS = tuple(
    (re.compile(rf"\b(?:{up})\b", re.IGNORECASE), re.compile(rf"\b(?:{down})\b", re.IGNORECASE))
    for up, down in ANTONYMS
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w.])")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text) if not re.fullmatch(r"(?:19|20)\d\d", n)}


def contrasts(claim: str, rationale: str, context: str = "") -> list[str]:
    """The contrasts found between a claim and a rationale sentence (its paper's text as `context`)."""
    found: list[str] = []
    for up, down in DIRECTIONS:
        claim_up, claim_down = bool(up.search(claim)), bool(down.search(claim))
        evidence_up, evidence_down = bool(up.search(rationale)), bool(down.search(rationale))
        if claim_up != claim_down and evidence_up != evidence_down and claim_up != evidence_up:
            found.append(f"direction:{up.pattern[6:30]}")
    claim_no_effect, evidence_no_effect = bool(NO_EFFECT.search(claim)), bool(NO_EFFECT.search(rationale))
    if claim_no_effect != evidence_no_effect:
        found.append("no_effect")
    elif not claim_no_effect and len(NEGATION.findall(claim)) % 2 != len(NEGATION.findall(rationale)) % 2:
        found.append("negation")
    claim_numbers = _numbers(claim)
    if (
        claim_numbers
        and _numbers(context or rationale)
        and not claim_numbers <= _numbers(rationale + " " + context)
    ):
        found.append("numbers")
    return found


def label_for(claim: str, rationale: str, context: str = "") -> tuple[str, float]:
    """SUPPORT or CONTRADICT for a relevant rationale sentence, with a confidence."""
    found = contrasts(claim, rationale, context)
    if len(found) % 2:
        return "CONTRADICT", 0.6 if len(found) == 1 else 0.55
    return "SUPPORT", 0.7 if not found else 0.55

"""Claim verdicts from rationale sentences: similarity decides relevance, polarity decides the label."""

from __future__ import annotations

import re

_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|without|lack(?:s|ed|ing)?|absence|absent|fail(?:s|ed)?|unable|cannot|none|"
    r"insignificant|non-significant|nonsignificant|unaffected|unchanged|irrespective)\b|n't\b",
    re.IGNORECASE,
)
_UP = re.compile(
    r"\b(?:increas\w*|higher|elevat\w*|promot\w*|enhanc\w*|upregulat\w*|up-regulat\w*|induc\w*|activat\w*|greater|more|"
    r"improv\w*|rais\w*|accelerat\w*|stimulat\w*|augment\w*|boost\w*|gain\w*|rise|rises|rising|exceed\w*|potentiat\w*|"
    r"positive(?:ly)?|associated with (?:an )?increased|risk factor)\b",
    re.IGNORECASE,
)
_DOWN = re.compile(
    r"\b(?:decreas\w*|reduc\w*|lower\w*|inhibit\w*|suppress\w*|downregulat\w*|down-regulat\w*|less|fewer|impair\w*|"
    r"attenuat\w*|prevent\w*|block\w*|negative(?:ly)?|diminish\w*|declin\w*|loss|abolish\w*|protect\w*|decline|drop\w*)\b",
    re.IGNORECASE,
)
_NO_EFFECT = re.compile(
    r"\b(?:no (?:\w+ ){0,2}(?:effect|difference|association|change|benefit|increase|decrease|correlation|relationship)|"
    r"did not (?:differ|change|affect|alter|improve|reduce|increase)|not (?:significantly )?(?:associated|different|related|correlated)|"
    r"was similar|were similar|comparable between|does not)\b",
    re.IGNORECASE,
)


def polarity(sentence: str) -> int:
    """+1 / -1 for the direction a sentence asserts, flipped by each negation; 0 when it states no direction."""
    up = len(_UP.findall(sentence))
    down = len(_DOWN.findall(sentence))
    direction = (up > down) - (down > up)
    if _NO_EFFECT.search(sentence):
        return -2
    negations = len(_NEGATION.findall(sentence))
    if direction == 0:
        return -1 if negations % 2 else 1
    return direction * (-1 if negations % 2 else 1)


def label_for(claim: str, rationale: str) -> tuple[str, float]:
    """SUPPORT or CONTRADICT for a relevant rationale sentence, with a confidence from 0.5 to 0.8."""
    claim_polarity, evidence_polarity = polarity(claim), polarity(rationale)
    if evidence_polarity == -2 and claim_polarity != -2:
        return "CONTRADICT", 0.65
    if claim_polarity == -2 and evidence_polarity != -2:
        return "CONTRADICT", 0.6
    if claim_polarity == evidence_polarity or claim_polarity == -2:
        return "SUPPORT", 0.7
    return "CONTRADICT", 0.55

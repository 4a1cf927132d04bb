"""The Q&A as an analyst reads it: each analyst's question sentences, follow-ups kept with their question,
the management turns that answer with their substantive sentences marked, and a topic label."""

from __future__ import annotations

import re

from connectors.base import Document
from connectors.earnings.tone import ANSWER_EVIDENCE, tone_of
from connectors.earnings.transcript import QA, Turn
from connectors.spans import make_span, trimmed_span
from connectors.text import Segment, split_sentences

_LEAD = (
    r"^(?:(?:and|so|but|okay|ok|just|now|then|also|maybe|secondly|second|lastly|finally|first|firstly|um|uh|"
    r"great|perfect|got it|thanks|thank you|yes|yeah|right|sure|i guess|i mean|and then|on that|on the)[,.]?\s+)*+"
)
_AUXILIARY = r"(?:is|are|was|were|do|does|did|can|could|would|will|should|have|has|shall)"
_INTERROGATIVE = re.compile(
    _LEAD + rf"(?:{_AUXILIARY}\s+(?:there|you|we|they|it|that|this|these|those|the|your|any|management)\b|"
    rf"(?:what|how|when|why|where|which|who)(?:'s|\u2019s|\s+(?:{_AUXILIARY}|much|many|far|long|big|quickly|soon|fast)\b)|"
    r"(?:what|how|why|which)\s+(?!i\b|we\b|they\b|it\b|you\b|i'|we'|they'|it'|you')[a-z]+)",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:(?:can|could|would|will) you(?: (?:just|maybe|please|also|perhaps|kind of|help))* (?:talk|give|help|provide|"
    r"comment|elaborate|walk|update|speak|discuss|share|quantify|remind|tell|unpack|expand|clarify|touch|address|"
    r"describe|explain|frame|size|break|characterize|parse|dimension|offer|add|confirm|go|bridge|put|flesh|"
    r"double|dig|drill|highlight|point|comment|contextualize|help|let)|"
    r"(?:i'm|i\u2019m|i am|i was|we're|we are|we were|just) (?:just |kind of |also )?(?:wondering|curious|hoping|"
    r"trying to (?:understand|get|figure|reconcile))|"
    r"(?:want(?:ed)?|like|love|hoping|hope|try|trying) to (?:ask|get|understand|hear|know|see|follow|touch|dig|drill|"
    r"talk|focus|go|come back|circle back|start|pick|clarify|check|confirm|learn|double|unpack|revisit|better)|"
    r"(?:any|some|more|additional|little|bit of|bit more) (?:color|colour|commentary|thoughts|detail|details|sense|"
    r"perspective|insight|update|help|context|clarity|granularity)|"
    r"help (?:us|me) (?:understand|think|with|out|frame|size|bridge|reconcile|get)|walk (?:us|me) through|"
    r"give (?:us|me)|talk (?:about|to|through|a little)|tell (?:us|me)|remind (?:us|me)|"
    r"if you could|if you can|maybe you could|curious (?:about|if|how|what|whether|to|on)|"
    r"wondering (?:if|how|what|whether|about|why|when)|(?:your|any) (?:thoughts|views|perspective|take) on|"
    r"how (?:should|do|would|are|is) (?:we|you|that|the)|"
    r"(?:question|one|follow-up|followup|follow up) (?:is )?(?:on|about|around|regarding|relates to|related to)\b)",
    re.IGNORECASE,
)
_PLEASANTRY = re.compile(
    r"^(?:hi|hey|hello|good (?:morning|afternoon|evening|day)|morning|afternoon|thanks?|thank you|congrat\w*|"
    r"great|nice|okay|ok|yes|yeah|sure|got it|understood|perfect|fair enough|appreciate\w*|very helpful|"
    r"helpful|that's|that is|that was|wow|excellent|terrific|awesome|all right|alright|i have|i've got|"
    r"just (?:a|one|two|a couple)|a couple|two|one|my)\b",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(
    r"\b(?:questions?|ones?|follow-ups?|things?)\b[^?]*$|\b(?:taking|take) my questions?\b|"
    r"\bcongrat\w*|\bgood (?:morning|afternoon|evening)\b|\bthank(?:s| you)\b|\bnice (?:quarter|results|job)\b|"
    r"\bgreat (?:quarter|results|job|execution)\b",
    re.IGNORECASE,
)
_ANNOUNCEMENT = re.compile(
    r"\b(?:follow[- ]?ups?|quick one|(?:want|wanted|like) to (?:start|clarify|go through)|(?:one|first|second|last) "
    r"(?:question|thing)|unrelated topic)\b",
    re.IGNORECASE,
)
_SMALL_TALK = re.compile(
    r"^(?:(?:hi|hey|hello|good (?:morning|afternoon|evening))[\w ,]*[,.!]?\s*)?(?:how are you(?: doing)?(?: today)?|"
    r"how's it going|(?:can|are) you (?:able to )?hear me(?: okay| ok| now)?|are you there)[\w ,]*[?.!]?$",
    re.IGNORECASE,
)
_HANDOFF = re.compile(
    r"\b(?:i'll|i\u2019ll|i will|let me|i'm going to|i\u2019m going to|i am going to|going to)\s+"
    r"(?:let|turn|hand|kick|pass|ask|have)\b.{0,60}\b(?:to|over|answer|take|address|comment)\b",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"^(?:(?:hey|hi|yes|yeah|sure|okay|ok|so|thanks?|thank you|good morning|good afternoon)[,.! ]*)+"
    r"(?:[A-Z][a-z]+)?[,.!]*$",
    re.IGNORECASE,
)
TOPIC_TERMS = (
    "net interest income",
    "net income",
    "operating income",
    "adjusted ebitda",
    "ebitda",
    "earnings per share",
    "same-store noi",
    "long-term growth",
    "unit growth",
    "store openings",
    "balance sheet",
    "data center",
    "rate case",
    "rate base",
    "it budgets",
    "net interest margin",
    "gross margin",
    "operating margin",
    "ebitda margin",
    "free cash flow",
    "cash flow",
    "book-to-bill",
    "same-store sales",
    "comparable sales",
    "supply chain",
    "semiconductor shortage",
    "chip shortage",
    "raw materials",
    "raw material",
    "commodity costs",
    "input costs",
    "price increases",
    "pricing",
    "organic growth",
    "market share",
    "share repurchases",
    "share repurchase",
    "buyback",
    "buybacks",
    "dividend",
    "capital allocation",
    "capex",
    "capital expenditures",
    "acquisitions",
    "acquisition",
    "m&a",
    "backlog",
    "orders",
    "bookings",
    "guidance",
    "outlook",
    "demand",
    "inventory",
    "inventories",
    "write-offs",
    "write-off",
    "credit quality",
    "loan growth",
    "deposits",
    "reserves",
    "provisions",
    "leverage",
    "debt",
    "tax rate",
    "inflation",
    "freight",
    "logistics",
    "labor",
    "wages",
    "tariffs",
    "volume",
    "volumes",
    "mix",
    "competition",
    "competitive",
    "e-commerce",
    "digital",
    "cloud",
    "subscription",
    "churn",
    "stimulus",
    "covid",
    "pandemic",
    "margins",
    "margin",
    "costs",
    "cost",
    "expenses",
    "revenue",
    "sales",
    "eps",
    "earnings",
    "profitability",
    "capacity",
    "utilization",
    "headcount",
    "hiring",
    "customers",
    "china",
    "europe",
    "latin america",
    "asia",
    "north america",
    "automotive",
    "mobile",
    "datacom",
    "industrial",
    "defense",
    "commercial aerospace",
    "broadband",
    "emerging markets",
    "synergies",
    "integration",
    "occupancy",
    "leasing",
    "noi",
    "nii",
    "travel",
    "budgets",
    "reinsurance",
    "renewals",
    "loans",
    "credit",
    "fee income",
    "opex",
    "headwinds",
    "contracts",
    "pipeline",
    "renewables",
    "economics",
    "openings",
    "traffic",
    "promotions",
    "marketing",
    "advertising",
    "r&d",
    "investments",
    "liquidity",
    "share count",
    "valuation",
    "portfolio",
    "yields",
    "spreads",
    "premiums",
    "claims",
    "underwriting",
    "catastrophe",
    "electric vehicles",
    "ev",
    "semiconductor",
    "5g",
    "regulation",
    "regulatory",
    "production",
    "shipments",
    "subscribers",
    "arpu",
    "awards",
    "government",
)
_TOPIC = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in TOPIC_TERMS) + r")\b", re.IGNORECASE)
_PHRASE_AFTER = re.compile(
    r"\b(?:on|about|around|regarding|in terms of|with respect to|related to)\s+(?:the\s+|your\s+|that\s+|this\s+)?"
    r"(?P<phrase>[A-Za-z][\w&'\u2019-]*(?:\s+[A-Za-z][\w&'\u2019-]*){0,3})",
    re.IGNORECASE,
)
_DETERMINED = re.compile(
    r"\b(?:the|your|that|this|these|those|its|their)\s+(?P<phrase>[A-Za-z][\w&'\u2019-]*(?:\s+[A-Za-z][\w&'\u2019-]*){0,2})",
    re.IGNORECASE,
)
_NOT_A_NOUN = re.compile(
    r"^(?:\w+(?:ing|ed|ly)|get|got|go|see|say|said|look|make|made|take|took|give|think|know|mean|need|want|feel|"
    r"seem|same|other|next|last|new|old|big|small|best|better|current|recent|overall|whole|general|different|"
    r"million|billion|thousand|percent|per|cent|half|full|quick|fair|real|right|left|back|ahead|still|even|"
    r"exactly|really|very|much|many|few|lot|lots|along|above|below|over|under|again|ever|every)$",
    re.IGNORECASE,
)
_STOP = frozenset(
    re.findall(
        r"\S+",
        "a an the and or but so of on in to for with at by from about around this that these those it its it's you "
        "your we our us i my me they them their there here is are was were be been being do does did have has had "
        "can could would will should may might just maybe also kind sort bit little lot more most some any all "
        "thing things question questions quick one two first second follow up follow-up morning afternoon evening "
        "good thanks thank congratulations congrats hi hey hello guys everyone everybody great nice quarter "
        "results call job how what when why where which who whether if then than now yeah okay ok sure time "
        "year years terms respect regard regards side point color colour commentary thoughts sense update talk "
        "area areas approach way ways level levels basis points impressions early comment comments detail details "
        "stuff piece pieces part parts topic that's which who whom whose",
    )
)


def is_pleasantry(sentence: str) -> bool:
    """A greeting, thanks, congratulations or a preamble that announces questions without asking one."""
    words = re.findall(r"[\w'\u2019-]+", sentence)
    if _SMALL_TALK.match(sentence.strip()):
        return True
    if "?" in sentence or _REQUEST.search(sentence):
        return False
    return len(words) <= 14 and bool(_PLEASANTRY.match(sentence.strip()) or _PREAMBLE.search(sentence))


def is_ask(sentence: str) -> bool:
    """An interrogative sentence, or the request sentence that carries the ask without a question mark."""
    stripped = sentence.strip()
    if re.search(r"\?[\"')\]\u201d]*$", stripped) or ("?" in stripped and not stripped.endswith(".")):
        return True
    if _REQUEST.search(stripped):
        return not re.match(r"^(?:thanks?|thank you)\b[^.]*for\b", stripped, re.IGNORECASE) or "?" in stripped
    return bool(_INTERROGATIVE.match(stripped)) and len(stripped.split()) >= 4 and not stripped.endswith("!")


def is_substantive(sentence: str) -> bool:
    """An answer sentence with content: not a greeting, thanks, an address or a hand-off to a colleague."""
    words = re.findall(r"[A-Za-z0-9%$]+", sentence)
    if len(words) < 6 or _ADDRESS.match(sentence.strip()) or _HANDOFF.search(sentence):
        return False
    return not re.match(
        r"^(?:(?:thanks?|thank you)(?: for (?:the|your) questions?)?|good (?:morning|afternoon)|great question|"
        r"that's a (?:great|good) question)\b[^.]*[.!]?$",
        sentence.strip(),
        re.IGNORECASE,
    )


def topics(question: str, names: frozenset[str] = frozenset()) -> list[str]:
    """Business terms the question names, in order; else a short noun phrase (after on/about/around/regarding, or
    after a determiner); else a capitalised name that is no participant's; never a greeting."""
    question = re.sub(r"\[[^\]]*\]", " ", question)
    found = list(dict.fromkeys(m.group(0).lower() for m in _TOPIC.finditer(question)))
    if found:
        return found
    for pattern in (_PHRASE_AFTER, _DETERMINED):
        for match in pattern.finditer(question):
            words = []
            for word in match.group("phrase").split():
                if word.lower() in _STOP or word.lower() in names or _NOT_A_NOUN.match(word):
                    break
                words.append(word)
            if words and len(" ".join(words)) >= 4:
                return [" ".join(words)]
    capitalised = re.findall(
        r"(?<![.?!]\s)(?<!^)\b([A-Z][A-Za-z&'\u2019-]{2,}(?:\s+[A-Z][A-Za-z&'\u2019-]{2,})*)", question
    )
    capitalised = [
        n for n in capitalised if n.lower() not in _STOP and n.lower() not in names and not n.startswith("I'")
    ]
    return [capitalised[0]] if capitalised else []


def _runs(document: Document, sentences: list[Segment], keep: list[bool]) -> list[dict]:
    """Spans of the runs of consecutive kept sentences."""
    spans: list[dict] = []
    index = 0
    while index < len(sentences):
        if not keep[index]:
            index += 1
            continue
        stop = index
        while stop + 1 < len(sentences) and keep[stop + 1]:
            stop += 1
        spans.append(
            make_span(document.document_id, document.text, sentences[index].start, sentences[stop].end)
        )
        index = stop + 1
    return spans


def _announces(sentence: str) -> bool:
    """A short sentence that only announces an ask ("John, just a quick one to follow up on that.")."""
    return (
        "?" not in sentence
        and len(sentence.split()) <= 14
        and bool(_ANNOUNCEMENT.search(sentence))
        and not re.search(
            r"\b(?:colou?r|thoughts|talk|walk|explain|understand|quantify)\b", sentence, re.IGNORECASE
        )
    )


def asks_of(document: Document, turn: Turn) -> list[dict]:
    """The question spans of an analyst turn: runs of interrogative or request sentences, no pleasantries;
    a sentence that only announces a follow-up is left out when the turn asks something else too."""
    sentences = split_sentences(document.text, turn.speech_start, turn.end)
    keep = [is_ask(s.text) and not is_pleasantry(s.text) for s in sentences]
    announcing = [k and _announces(s.text) for k, s in zip(keep, sentences, strict=True)]
    if any(k and not a for k, a in zip(keep, announcing, strict=True)):
        keep = [k and not a for k, a in zip(keep, announcing, strict=True)]
    return _runs(document, sentences, keep)


def _answer(document: Document, turn: Turn) -> dict | None:
    span = trimmed_span(document.document_id, document.text, turn.speech_start, turn.end)
    if span is None:
        return None
    sentences = split_sentences(document.text, turn.speech_start, turn.end)
    substantive = [
        make_span(document.document_id, document.text, s.start, s.end)
        for s in sentences
        if is_substantive(s.text)
    ]
    return {
        "speaker": turn.speaker,
        "span": span,
        "substantive": substantive,
        "tone": tone_of(document, [(s["start"], s["end"]) for s in substantive], ANSWER_EVIDENCE),
    }


def pair_questions(document: Document, turns: list[Turn], roles: dict[str, str]) -> list[dict]:
    """One entry per analyst question with its answers; the same analyst's later questions in the same slot
    (before the operator or another analyst takes the floor) are its follow-ups."""
    pairs: list[dict] = []
    current: dict | None = None
    target: dict | None = None
    names = frozenset(part.lower().strip(".,") for turn in turns for part in turn.speaker.split())
    for turn in turns:
        if turn.section != QA:
            continue
        role = roles.get(turn.speaker, "other")
        if role == "operator":
            current = target = None
            continue
        if role == "analyst":
            if current is not None and current["question"]["speaker"] != turn.speaker:
                current = target = None
            asks = asks_of(document, turn)
            if not asks:
                continue
            text = " ".join(span["quote"] for span in asks)
            labels = topics(text, names)
            entry = {
                "speaker": turn.speaker,
                "span": asks[0],
                "questions": asks,
                "turn": trimmed_span(document.document_id, document.text, turn.speech_start, turn.end),
            }
            if current is None:
                current = {
                    "question": entry,
                    "answers": [],
                    "topic": labels[0] if labels else "general",
                    "topics": labels,
                    "follow_ups": [],
                }
                pairs.append(current)
                target = current
            else:
                target = {
                    "question": entry,
                    "answers": [],
                    "topic": labels[0] if labels else current["topic"],
                }
                current["follow_ups"].append(target)
                current["topics"] = list(dict.fromkeys(current["topics"] + labels))
            continue
        if target is not None:
            answer = _answer(document, turn)
            if answer is not None:
                target["answers"].append(answer)
    for pair in pairs:
        for entry in (pair, *pair["follow_ups"]):
            entry["answered"] = bool(entry["answers"])
    return pairs

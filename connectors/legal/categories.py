"""CUAD v1's 41 clause categories and the sentence-level rules that find them.

Each rule is a regular expression with a weight; a sentence's score for a category is the sum of the weights
of the rules it matches (negative weights veto common false friends), and a sentence scoring at least the
category's threshold is a candidate clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CUAD_CATEGORIES: tuple[str, ...] = (
    "Document Name",
    "Parties",
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Renewal Term",
    "Notice Period To Terminate Renewal",
    "Governing Law",
    "Most Favored Nation",
    "Non-Compete",
    "Exclusivity",
    "No-Solicit Of Customers",
    "Competitive Restriction Exception",
    "No-Solicit Of Employees",
    "Non-Disparagement",
    "Termination For Convenience",
    "Rofr/Rofo/Rofn",
    "Change Of Control",
    "Anti-Assignment",
    "Revenue/Profit Sharing",
    "Price Restrictions",
    "Minimum Commitment",
    "Volume Restriction",
    "Ip Ownership Assignment",
    "Joint Ip Ownership",
    "License Grant",
    "Non-Transferable License",
    "Affiliate License-Licensor",
    "Affiliate License-Licensee",
    "Unlimited/All-You-Can-Eat-License",
    "Irrevocable Or Perpetual License",
    "Source Code Escrow",
    "Post-Termination Services",
    "Audit Rights",
    "Uncapped Liability",
    "Cap On Liability",
    "Liquidated Damages",
    "Warranty Duration",
    "Insurance",
    "Covenant Not To Sue",
    "Third Party Beneficiary",
)
YES_NO_CATEGORIES: tuple[str, ...] = CUAD_CATEGORIES[8:]


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    weight: float


RULE_FLAGS = re.IGNORECASE | re.DOTALL


def _rules(*pairs: tuple[str, float]) -> tuple[Rule, ...]:
    return tuple(Rule(re.compile(pattern, RULE_FLAGS), weight) for pattern, weight in pairs)


LICENSE = r"(?:licen[cs]e|sublicen[cs]e|right to (?:use|reproduce|distribute|sell|market|make))"
AFFILIATE = r"affiliates?"

SENTENCE_RULES: dict[str, tuple[Rule, ...]] = {
    "Effective Date": _rules(
        (r"\beffective (?:as of|on|from|upon)\b", 1.0),
        (r"[\"“]effective date[\"”]", 1.0),
        (r"\beffective date\b.{0,40}\b(?:shall be|means|is)\b", 0.8),
        (r"\bcommence(?:s|d)? on\b", 0.6),
        (r"\bshall (?:become|be) effective\b", 0.8),
        (r"\bshall commence\b", 0.5),
    ),
    "Expiration Date": _rules(
        (r"\bterm of (?:this|the) (?:agreement|contract) (?:shall|will) be\b", 1.0),
        (r"\b(?:valid|in (?:force|effect)) for\b.{0,30}\b(?:years?|months?)\b", 1.0),
        (r"\buntil terminated\b", 0.3),
        (r"\bextended (?:to|until|through)\b", 0.6),
        (r"\b(?:shall|will) have a (?:duration|term) of\b", 1.0),
        (
            r"\b(?:commenc|begin|effective)\w*\b.{0,200}\b(?:ending|concluding|terminating|expiring|until|through)\b",
            1.0,
        ),
        (r"\b(?:initial )?term of this (?:agreement|contract)\b", 0.7),
        (
            r"\b(?:shall|will) (?:continue|remain) in (?:full )?(?:force|effect)\b.{0,80}\b(?:until|for|through)\b",
            0.8,
        ),
        (r"\b(?:shall|will) expire\b", 0.8),
        (r"\bexpir(?:es|ation date)\b", 0.4),
        (r"\bperiod of \w+ \(?\d*\)? ?(?:years?|months?)\b", 0.4),
        (r"\bunless (?:sooner|earlier) terminated\b", 0.5),
        (r"\bterm\b.{0,120}\b(?:terminat|expir|end|conclud)\w* on\b", 0.9),
        (
            r"\b(?:commenc|begin|effective)\w*\b.{0,160}\b(?:continu\w*|remain\w*|ending|concluding|terminating)\b.{0,40}\b(?:until|for|on|through|the)\b",
            0.8,
        ),
        (r"\bduration of\b", 0.6),
        (r"\bexpiration date\b", 0.6),
        (r"\bin perpetuity\b|\bperpetual\b", 0.3),
        (r"\bsurviv", -0.6),
        (r"\blicense\b", -0.2),
    ),
    "Renewal Term": _rules(
        (r"\b(?:automatically|auto-?) ?(?:renew|extend)", 1.2),
        (r"\brenewal (?:term|period)s?\b", 0.9),
        (r"\b(?:successive|additional|further) (?:\w+ )?(?:\(\d+\) )?(?:year|month|renewal)", 0.7),
        (r"\b(?:may|shall|will) be (?:renewed|extended)\b", 0.7),
        (r"\brenew(?:ed|al)?\b", 0.3),
    ),
    "Notice Period To Terminate Renewal": _rules(
        (r"\bnon-?\s?renew", 1.2),
        (r"\bnot (?:like|wish|want|intend|elect) to (?:renew|extend)\b", 1.2),
        (
            r"\bunless\b.{0,120}\b(?:notice|notifies|notify)\b.{0,120}\b(?:prior to|before|in advance of)\b",
            0.8,
        ),
        (
            r"\bnotice of (?:non-?renewal|its (?:intent(?:ion)?|election|decision) not to (?:renew|extend))",
            1.2,
        ),
        (r"\bnot to (?:renew|extend)\b", 0.8),
        (
            r"\b(?:prior to|before) the (?:end|expiration|expiry) of (?:the|such|any) (?:then[- ])?(?:current |initial |renewal )*(?:term|period)",
            0.7,
        ),
        (r"\b\d+\)? days\b|\b(?:thirty|sixty|ninety)\b", 0.2),
        (r"\brenew", 0.3),
    ),
    "Governing Law": _rules(
        (r"\bgoverned\b.{0,40}\b(?:by|according to|in accordance with|under)\b", 0.8),
        (r"\b(?:in accordance with|according to|pursuant to|under) the laws? of\b", 0.6),
        (r"\b(?:interpretation|construction)\b.{0,100}\b(?:laws?|state) of\b", 0.6),
        (r"\bgoverned by\b", 0.8),
        (r"\b(?:construed|interpreted|enforced) (?:in accordance with|under|pursuant to)\b", 0.6),
        (
            r"\blaws? of (?:the )?(?:state|commonwealth|province|republic|people's republic)? ?(?:of )?[A-Z]",
            0.6,
        ),
        (r"\bgoverning law\b", 0.8),
        (r"\bconflicts? of laws?\b", 0.3),
        (r"\bjurisdiction\b", 0.1),
    ),
    "Most Favored Nation": _rules(
        (r"\bmost favou?red\b", 1.5),
        (r"\b(?:no less|not less|at least as) favou?rable\b", 0.9),
        (r"\bmore favou?rable (?:terms|prices?|pricing|conditions)\b", 0.9),
        (r"\b(?:lowest|best) (?:price|pricing|terms)\b", 0.6),
        (r"\bequal to or (?:less|lower) than\b.{0,60}\b(?:price|charged)", 0.6),
    ),
    "Non-Compete": _rules(
        (r"\bshall not\b.{0,80}\bdirectly or indirectly\b", 0.6),
        (r"\b(?:similar to|competitive with|competes with|in competition with)\b", 0.6),
        (r"\bnon-?compet", 1.2),
        (r"\b(?:shall|will|may) not\b.{0,120}\bcompet(?:e|ing|itive)\b", 1.0),
        (
            r"\b(?:engage|participate|invest|interest)\b.{0,60}\b(?:business|product|service)s?\b.{0,40}\bcompet",
            0.9,
        ),
        (r"\bcompetitive (?:products?|business|services?)\b", 0.5),
        (r"\bcompeting products?\b", 0.5),
        (r"\bcompetitor", 0.2),
    ),
    "Exclusivity": _rules(
        (
            r"\bexclusive,\s+(?:[\w-]+,?\s+){0,4}(?:right|license|licence|distributor|basis|provider|supplier)",
            0.6,
        ),
        (
            r"\bexclusive (?:right|distributor|license|licensee|basis|provider|supplier|agent|reseller|partner|representative|sponsor|marketing|territory|dealer|manufacturer|seller)",
            1.0,
        ),
        (r"\bexclusively\b", 1.0),
        (r"\b(?:sole|only) (?:and exclusive )?(?:source|supplier|provider|distributor)\b", 0.8),
        (r"\bshall not\b.{0,80}\b(?:appoint|grant)\b.{0,60}\b(?:any )?other\b", 0.7),
        (r"\bnon-?exclusive\b", -0.6),
        (r"\bexclusive (?:jurisdiction|venue|remedy|remedies|of)\b", -1.0),
        (r"\bsole and exclusive remed", -1.0),
        (r"\bexclusive\b", 0.4),
    ),
    "No-Solicit Of Customers": _rules(
        (r"\bsolicit\w*\b.{0,120}\b(?:customers?|clients?|accounts?|subscribers?|members?)\b", 1.2),
        (r"\b(?:customers?|clients?)\b.{0,80}\bsolicit", 0.9),
        (r"\b(?:divert|induce|entice)\b.{0,80}\b(?:customers?|clients?)\b", 0.9),
    ),
    "Competitive Restriction Exception": _rules(
        (
            r"\bnotwithstanding (?:the (?:foregoing|above)|anything|paragraphs?|sections?)\b.{0,200}\b(?:shall be (?:entitled|permitted|free)|shall not be (?:required|prohibited|restricted))\b",
            1.0,
        ),
        (r"\bterminat|\bassign|\bconfidential|\bliab|\bindemn", -0.6),
        (r"\bnotwithstanding\b.{0,200}\b(?:compet|exclusiv|solicit)", 1.0),
        (
            r"\b(?:shall not|will not|does not)\b.{0,30}\b(?:restrict|prohibit|prevent|preclude|limit)\b.{0,120}\b(?:compet|exclusiv|solicit|develop|market|sell)",
            0.9,
        ),
        (r"\bnothing (?:in|herein|contained)\b.{0,120}\b(?:restrict|prohibit|prevent|preclude|limit)\b", 0.8),
        (r"\bexcept (?:as|for|that)\b.{0,150}\b(?:compet|exclusiv|solicit)", 0.7),
        (
            r"\b(?:general )?(?:solicitations?|advertisements?) not (?:specifically )?(?:directed|targeted)\b",
            1.0,
        ),
        (
            r"\bpassive investment\b|\bless than (?:\w+ )?\(?\d+%?\)? ?(?:percent|%)\b.{0,60}\b(?:stock|securities|shares)\b",
            0.9,
        ),
    ),
    "No-Solicit Of Employees": _rules(
        (r"\bsolicit\w*\b.{0,160}\b(?:employ\w*|personnel|staff|consultants?|contractors?)\b", 1.1),
        (
            r"\b(?:hire|employ|recruit|engage)\b.{0,120}\b(?:employees?|personnel|staff)\b.{0,80}\b(?:of the other|of [A-Z])",
            0.9,
        ),
        (r"\bnon-?solicit", 0.7),
    ),
    "Non-Disparagement": _rules(
        (r"\bdisparag", 1.3),
        (r"\bderogatory\b", 1.0),
        (
            r"\b(?:harm|damage|detrimental to|injur\w*|tarnish|discredit)\b.{0,40}\b(?:reputation|goodwill|name|image)\b",
            0.9,
        ),
        (r"\b(?:negative|adverse|defamatory|false or misleading) (?:statements?|comments?|remarks?)\b", 0.9),
    ),
    "Termination For Convenience": _rules(
        (r"\b(?:in|at) (?:its|their) (?:sole )?discretion\b.{0,40}\bterminat", 1.3),
        (r"\bfor non-?cause\b", 1.3),
        (r"\bterminated at any time\b", 1.0),
        (
            r"\bterminat\w*\b.{0,100}\b(?:for convenience|without cause|for any reason|for no reason|at (?:its|their) (?:sole )?(?:discretion|option|convenience)|with or without cause)",
            1.3,
        ),
        (
            r"\b(?:may|can|shall have the right to)\b.{0,30}\bterminate\b.{0,120}\b(?:at any time|upon|by giving|on|with)\b.{0,40}\b(?:\d+|thirty|sixty|ninety|fifteen|ten|seven)\b.{0,20}\b(?:days?|months?)\b.{0,30}\bnotice\b",
            1.0,
        ),
        (r"\bbreach|default|insolven|bankrupt|fail(?:s|ure) to", -0.7),
    ),
    "Rofr/Rofo/Rofn": _rules(
        (r"\bright of first (?:refusal|offer|negotiation)\b", 1.5),
        (
            r"\bfirst (?:right|option|opportunity) to (?:purchase|acquire|negotiate|buy|offer|match|bid)\b",
            1.2,
        ),
        (r"\b(?:rofr|rofo|rofn)\b", 1.2),
        (r"\bright to match\b", 1.0),
    ),
    "Change Of Control": _rules(
        (r"\bchange (?:of|in) control\b", 1.3),
        (
            r"\b(?:merger|consolidation|reorganization|acquisition|acquired|sale of (?:all or )?substantially all)\b.{0,200}\b(?:terminat|assign|consent|notif|deemed)",
            0.8,
        ),
        (r"\b(?:voting (?:power|securities|stock)|controlling interest|beneficial owner)\b", 0.5),
        (r"\bsubstantially all of (?:its|the) (?:assets|business|stock)\b", 0.4),
    ),
    "Anti-Assignment": _rules(
        (r"\bneither party (?:shall|may|will)\b.{0,40}\b(?:assign|transfer)", 1.0),
        (r"\brequires? the (?:prior )?(?:written )?consent\b", 0.8),
        (
            r"\b(?:shall|may|will) not\b.{0,40}\b(?:assign|transfer|delegate|sublicense|sub-license)\b.{0,200}\b(?:consent|approval|permission)\b",
            1.3,
        ),
        (r"\bwithout the (?:prior )?(?:express )?(?:written )?(?:consent|approval)\b.{0,120}\bassign", 1.0),
        (r"\bassign\w*\b.{0,200}\bwithout\b.{0,80}\b(?:consent|approval)\b", 1.0),
        (r"\bnot (?:be )?(?:assignable|transferable)\b", 0.9),
        (r"\bany (?:purported |attempted )?assignment\b.{0,80}\b(?:void|null)\b", 1.0),
        (r"\bassign", 0.2),
    ),
    "Revenue/Profit Sharing": _rules(
        (r"\broyalt(?:y|ies)\b", 0.9),
        (
            r"\b(?:\d+(?:\.\d+)?%|\w+ percent|percentage)\b.{0,60}\b(?:of|on) (?:all )?(?:the )?(?:net |gross |total )?(?:sales|revenues?|profits?|receipts|income|proceeds|fees|amounts? (?:received|collected))",
            1.1,
        ),
        (r"\b(?:revenue|profit)[- ]shar", 1.3),
        (r"\bcommissions?\b", 0.6),
        (r"\bshare (?:of|in) (?:the )?(?:net |gross )?(?:revenues?|profits?|income)\b", 1.1),
    ),
    "Price Restrictions": _rules(
        (r"\b(?:shall|may|will) not (?:increase|raise|change|exceed)\b.{0,60}\bpric", 1.1),
        (r"\bpric\w*\b.{0,80}\b(?:shall|will) not (?:be )?(?:increase|exceed|change|raise)", 1.1),
        (r"\bprice (?:increase|adjustment)s?\b", 0.7),
        (r"\b(?:fixed|firm) (?:price|pricing)\b", 0.6),
        (r"\bresale price\b|\bminimum advertised price\b|\bsuggested retail price\b", 0.8),
    ),
    "Minimum Commitment": _rules(
        (r"\ba minimum of\b", 0.7),
        (r"\b(?:shall|must) (?:achieve|purchase|order|sell|maintain|make|spend)\b", 0.4),
        (
            r"\bminimum (?:total )?(?:purchase|order|quantit|annual|quarterly|monthly|volume|commitment|requirement|sales|royalt|fee|payment|number|charge)",
            1.2,
        ),
        (r"\b(?:purchase|order|buy|sell)\b.{0,40}\b(?:at least|not less than|a minimum of)\b", 1.0),
        (r"\b(?:at least|not less than|a minimum of)\b.{0,40}\b(?:units|orders|\$|dollars|US\$)", 0.7),
        (r"\bguaranteed minimum\b|\btake[- ]or[- ]pay\b", 1.0),
    ),
    "Volume Restriction": _rules(
        (r"\bnot more than\b.{0,40}\b(?:days|hours|appearances|units|copies|times|events)\b", 1.0),
        (
            r"\b(?:maximum|not (?:to )?exceed|in excess of|no more than|cap(?:ped)? (?:on|at)|limit(?:ed)? to)\b.{0,60}\b(?:units|quantit|volume|users|copies|licenses|seats|orders|number of)\b",
            1.1,
        ),
        (
            r"\b(?:units|quantit|volume|users|copies|seats)\b.{0,60}\b(?:in excess of|exceed(?:s|ing)?|over)\b",
            0.8,
        ),
        (r"\bforecast", 0.2),
    ),
    "Ip Ownership Assignment": _rules(
        (r"\bassigns? to\b.{0,60}\b(?:all|its)\b.{0,40}\brights?\b", 1.0),
        (r"\btransfer\b.{0,40}\bownership\b", 1.0),
        (r"\bgive title to\b", 1.0),
        (r"\bhereby (?:irrevocably )?(?:assigns?|transfers?|conveys?)\b", 1.0),
        (
            r"\b(?:shall|will) (?:be|become|remain|vest in)\b.{0,40}\b(?:the )?(?:sole and exclusive |exclusive |sole )?property of\b",
            0.8,
        ),
        (r"\bwork(?:s)? made for hire\b", 1.2),
        (
            r"\ball (?:right, title and interest|rights?, titles? and interests?)\b.{0,160}\b(?:assign|vest|belong|own)",
            1.0,
        ),
        (
            r"\b(?:intellectual property|patents?|copyrights?|inventions?|improvements?|developments?|work product|deliverables)\b",
            0.3,
        ),
        (r"\bown(?:s|ed)? (?:all|exclusively)\b", 0.4),
        (r"\blicen[cs]e", -0.3),
    ),
    "Joint Ip Ownership": _rules(
        (r"\bjointly[- ]owned\b|\bjoint(?:ly)? own", 1.4),
        (r"\bco-?own", 1.2),
        (r"\bowned (?:jointly|in common|equally) by\b", 1.4),
        (r"\bjoint (?:inventions?|intellectual property|developments?|works?|technology)\b", 1.1),
    ),
    "License Grant": _rules(
        (
            r"\bgrants?\b.{0,60}\bthe (?:non-?exclusive |exclusive |limited )?right to (?:use|reproduce|distribute|sell|market|display|make)\b",
            1.1,
        ),
        (r"\bhereby granted\b", 1.0),
        (r"\blicensed to (?:use|reproduce|distribute|sell|market|display|make)\b", 1.1),
        (rf"\bhereby grants?\b.{{0,120}}\b{LICENSE}", 1.3),
        (
            rf"\bgrants?\b.{{0,80}}\b(?:a |an )?(?:non-?exclusive|exclusive|limited|royalty-free|worldwide|perpetual|irrevocable|fully paid)\b.{{0,80}}\b{LICENSE}",
            1.2,
        ),
        (
            rf"\b{LICENSE}\b.{{0,40}}\bto (?:use|reproduce|make|sell|distribute|display|market|copy|modify)\b",
            0.9,
        ),
        (r"\b(?:is|are) (?:hereby )?(?:licensed|authorized) to\b", 0.8),
        (r"\bgrant\w*\b.{0,60}\b(?:a|an|the|any)\s+(?:[\w-]+,?\s+){0,4}licen[cs]es?\b", 1.1),
        (r"\bright to use\b", 0.6),
    ),
    "Non-Transferable License": _rules(
        (r"\bnon-?transferr?able\b", 1.3),
        (r"\bnon-?assignable\b", 1.1),
        (r"\bnon-?sublicen[cs]able\b", 1.0),
        (rf"\b(?:may|shall) not\b.{{0,40}}\b(?:sublicen[cs]e|transfer|assign)\b.{{0,80}}\b{LICENSE}", 0.9),
        (rf"\b{LICENSE}\b.{{0,80}}\bwithout the right to (?:sublicen|transfer|assign)", 1.0),
    ),
    "Affiliate License-Licensor": _rules(
        (
            rf"\b(?:licensor|company|provider|owner)\b.{{0,30}}\b(?:and|or) (?:its|their) {AFFILIATE}\b.{{0,160}}\b(?:grant|licen[cs]e)",
            1.0,
        ),
        (rf"\b{AFFILIATE}\b.{{0,80}}\bhereby grants?\b", 1.0),
        (rf"\b(?:owned|controlled|licensable) by\b.{{0,40}}\b(?:its|their|any of its) {AFFILIATE}\b", 0.9),
    ),
    "Affiliate License-Licensee": _rules(
        (
            rf"\bgrants?\b.{{0,80}}\bto\b.{{0,40}}\b(?:and|or) (?:to )?(?:its|their) {AFFILIATE}\b.{{0,120}}\b{LICENSE}",
            1.2,
        ),
        (
            rf"\b{LICENSE}\b.{{0,160}}\b(?:licensee|distributor|customer)\b.{{0,20}}\b(?:and|or) (?:its|their) {AFFILIATE}\b",
            1.0,
        ),
        (rf"\bsublicen[cs]e\b.{{0,80}}\b(?:to )?(?:its|their) {AFFILIATE}\b", 1.0),
        (
            rf"\b(?:its|their) {AFFILIATE}\b.{{0,40}}\b(?:may|shall be entitled to|have the right to) (?:use|exercise)\b",
            0.9,
        ),
    ),
    "Unlimited/All-You-Can-Eat-License": _rules(
        (r"\bunlimited (?:number|use|copies|users|access|quantities|right|license|licence)\b", 1.3),
        (r"\b(?:enterprise|site|company)[- ]wide\b", 0.9),
        (r"\bwithout (?:limitation as to|limit (?:on|as to)) (?:the )?(?:number|quantity)\b", 1.1),
        (r"\bas many (?:copies|users|times)\b", 1.0),
    ),
    "Irrevocable Or Perpetual License": _rules(
        (rf"\b(?:irrevocable|perpetual)\b.{{0,120}}\b{LICENSE}", 1.3),
        (rf"\b{LICENSE}\b.{{0,120}}\b(?:irrevocable|perpetual|in perpetuity)\b", 1.1),
        (r"\bfully[- ]paid[- ]up\b.{0,40}\b(?:irrevocable|perpetual)\b", 1.0),
    ),
    "Source Code Escrow": _rules(
        (r"\bescrow\b", 1.2),
        (r"\bsource code\b.{0,120}\b(?:deposit|release|escrow|deliver)", 1.0),
        (r"\bescrow agent\b", 0.5),
    ),
    "Post-Termination Services": _rules(
        (
            r"\b(?:after|following|upon|subsequent to) (?:the )?(?:termination|expiration|expiry)\b.{0,200}\b(?:continue to|shall (?:provide|deliver|support|sell|fill|purchase|complete|perform|assist|return)|transition|wind[- ]down|sell[- ]off|run[- ]off)",
            1.1,
        ),
        (r"\b(?:transition|wind[- ]down|sell[- ]off|run[- ]off) (?:period|services|assistance)\b", 1.2),
        (
            r"\b(?:termination|expiration)\b.{0,80}\b(?:outstanding|pending|open) (?:orders|purchase orders)\b",
            0.9,
        ),
        (r"\bfor a period of\b.{0,60}\b(?:after|following) (?:the )?(?:termination|expiration)\b", 0.9),
        (
            r"\b(?:prior to|after|following|upon|in the event of) (?:the )?(?:any )?(?:such )?(?:termination|expiration|expiry)\b",
            0.6,
        ),
        (
            r"\b(?:may|shall|will) (?:be sold|sell|continue|have a (?:reasonable )?period|remove|return|not be relieved|remain)\b",
            0.5,
        ),
    ),
    "Audit Rights": _rules(
        (r"\baudit", 1.2),
        (
            r"\b(?:inspect|examine|review|copy)\w*\b.{0,60}\b(?:books|records|accounts|facilities|premises)\b",
            1.0,
        ),
        (r"\b(?:books|records)\b.{0,120}\b(?:available|inspection|examination|access)\b", 0.9),
        (r"\baccess to\b.{0,60}\b(?:facilities|premises|records|plants?)\b", 0.6),
    ),
    "Uncapped Liability": _rules(
        (
            r"\b(?:limitations?|exclusions?|disclaimers?) (?:of|on) (?:liability|damages)\b.{0,160}\b(?:shall not|will not|do not|does not) apply\b",
            1.4,
        ),
        (
            r"\b(?:shall not|will not|do not|does not) (?:apply|limit)\b.{0,160}\b(?:gross negligence|willful|wilful|fraud|indemnif|confidential|infringement|death|bodily injury)",
            1.2,
        ),
        (
            r"\bexcept (?:for|with respect to|in the case of)\b.{0,160}\b(?:gross negligence|willful|wilful|fraud|indemnif|breach of (?:section|confidential)|infringement)",
            0.7,
        ),
        (r"\bunlimited liability\b", 1.3),
        (r"\bin no event\b|\bliab", 0.2),
    ),
    "Cap On Liability": _rules(
        (r"\bin no event shall\b.{0,80}\bliabilit\w*\b.{0,300}\bexceed", 1.4),
        (r"\bsole and exclusive remed(?:y|ies)\b", 0.8),
        (
            r"\b(?:no|any) liability\b.{0,120}\b(?:lost profits|special|incidental|indirect|consequential)\b",
            1.1,
        ),
        (r"\bliabilit\w*\b.{0,120}\b(?:is|shall be|are|will be) limited to\b", 1.2),
        (
            r"\b(?:no action|legal action|actions?)\b.{0,120}\bmore than\b.{0,40}\b(?:years?|months?)\b.{0,40}\bafter\b",
            1.1,
        ),
        (r"\b(?:shall|will) (?:not|in no event|at no time) be liable\b", 0.8),
        (r"\bliable\b.{0,200}\bin excess of\b", 0.8),
        (r"\bbe liable\b.{0,80}\b(?:incidental|consequential|special|punitive|exemplary|indirect)\b", 0.8),
        (
            r"\b(?:total|aggregate|maximum|entire|cumulative|overall) (?:\w+ )?liabilit\w*\b.{0,400}\b(?:exceed|limited to|not be more than|in excess of|amount (?:paid|of))",
            1.4,
        ),
        (r"\bliabilit\w*\b.{0,120}\b(?:shall|will) (?:not exceed|be limited to|in no event exceed)\b", 1.3),
        (
            r"\bin no event\b.{0,120}\bliable\b.{0,120}\b(?:indirect|incidental|consequential|special|punitive|exemplary|lost profits?)\b",
            1.2,
        ),
        (
            r"\b(?:shall not|will not) be liable\b.{0,160}\b(?:indirect|incidental|consequential|special|punitive|exemplary|lost profits?)\b",
            1.1,
        ),
        (r"\blimitation of liability\b", 1.0),
        (
            r"\b(?:shall not|will not|in no event|under no circumstances|neither party)\b.{0,200}\bliable\b",
            0.7,
        ),
        (r"\bdamages\b", 0.3),
        (r"\bliab\w*\b.{0,250}\b(?:is|are|shall be) excluded\b", 1.1),
        (r"\bwaive\w*\b.{0,80}\bclaims\b.{0,120}\b(?:consequential|punitive|incidental|special)\b", 1.1),
        (r"\bliable for no more than\b|\bcumulative maximum\b", 1.2),
        (r"\bexceed (?:the )?(?:amount|fees|sum|total)\b.{0,60}\b(?:paid|payable)\b", 0.6),
    ),
    "Liquidated Damages": _rules(
        (r"\bliquidated damages\b", 1.5),
        (r"\b(?:termination|cancellation|break-?up|early termination|exit) fee\b", 1.0),
        (r"\bnot (?:as )?a penalty\b|\bas a penalty\b", 0.8),
        (
            r"\b(?:shall|will) pay\b.{0,60}\b(?:an amount equal to|the sum of)\b.{0,120}\b(?:terminat|breach|fail)",
            0.7,
        ),
    ),
    "Warranty Duration": _rules(
        (
            r"\bwarrant(?:y|ies|s|ed)\b.{0,160}\b(?:for a period of|period of|for)\b.{0,30}\b(?:\d+|one|two|three|six|twelve|eighteen|twenty[- ]four|thirty|sixty|ninety)\b.{0,10}\b(?:days?|months?|years?)\b",
            1.3,
        ),
        (r"\bwarranty period\b", 1.2),
        (
            r"\b(?:\d+|one|two|three|six|twelve|eighteen|thirty|sixty|ninety)\)? ?(?:days?|months?|years?)\b.{0,80}\b(?:warrant|defects? in (?:materials|workmanship))",
            0.9,
        ),
    ),
    "Insurance": _rules(
        (r"\b(?:maintain|carry|obtain|procure|keep)\b.{0,80}\binsurance\b", 0.8),
        (r"\binsurance (?:policy|policies|coverage)\b", 0.5),
        (r"\binsurance\b", 0.6),
        (r"\binsured\b|\binsurer\b", 0.8),
        (
            r"\b(?:general liability|product liability|errors and omissions|workers'? compensation)\b.{0,60}\b(?:coverage|policy|policies)\b",
            1.0,
        ),
        (r"\bcertificates? of insurance\b|\badditional insured\b", 0.6),
    ),
    "Covenant Not To Sue": _rules(
        (r"\bcovenants? not to (?:sue|assert|bring)", 1.5),
        (
            r"\b(?:shall|will|agrees? to) not\b.{0,60}\b(?:sue|bring (?:any )?(?:action|claim|suit|proceeding)|assert (?:any )?claim)",
            1.1,
        ),
        (r"\b(?:contest|challenge|dispute|attack)\b.{0,80}\b(?:validity|ownership|enforceability)\b", 1.1),
        (r"\brelease[sd]?\b.{0,40}\b(?:any and all|all) claims\b", 0.6),
    ),
    "Third Party Beneficiary": _rules(
        (r"\b(?:no|not|nothing|neither|none)\b", -1.0),
        (r"\bsuccessors and (?:permitted )?assigns\b", -0.8),
        (r"\bthird[- ]party beneficiar", 1.5),
        (
            r"\bno (?:other )?(?:person|entity|third part(?:y|ies))\b.{0,120}\b(?:rights?|benefits?|remedies|beneficiar)",
            1.1,
        ),
        (
            r"\b(?:confer|create|give)\w*\b.{0,80}\b(?:upon|on|to) any (?:other )?(?:person|third part|entity)",
            1.0,
        ),
        (r"\bintended beneficiar", 1.1),
        (r"\bsolely for the benefit of\b", 0.8),
    ),
}

# Per category, all its rules as one alternation: search(a|b) finds a match exactly where search(a) or search(b)
# does, so one search clears the many sentences that no rule of the category matches.
ANY_SENTENCE_RULE: dict[str, re.Pattern[str]] = {
    category: re.compile("|".join(f"(?:{rule.pattern.pattern})" for rule in rules), RULE_FLAGS)
    for category, rules in SENTENCE_RULES.items()
}

THRESHOLDS: dict[str, float] = {category: 1.0 for category in SENTENCE_RULES}
THRESHOLDS["Revenue/Profit Sharing"] = 0.9
MAX_CLAUSES: dict[str, int] = {category: 6 for category in SENTENCE_RULES}
MAX_CLAUSES.update({"Governing Law": 2, "Effective Date": 2, "Expiration Date": 2, "Renewal Term": 2})
MAX_CLAUSES.update({"Notice Period To Terminate Renewal": 2, "Insurance": 3, "Audit Rights": 3})

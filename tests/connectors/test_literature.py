import pytest

from connectors import Document, run_connector
from connectors.evaluation import rationale_sentences
from connectors.loaders import corpus_document
from connectors.spans import invalid_spans
from tests.support.spans import lose, stored

CLAIMS = [
    {"claim_id": "c1", "claim": "Aspirin use reduces the risk of colorectal cancer."},
    {"claim_id": "c2", "claim": "Vitamin D supplementation reduces fractures in older adults."},
    {"claim_id": "c3", "claim": "Quantum computers factor large integers efficiently."},
    {"claim_id": "q1", "question": "How does lifestyle affect memory and sleep?"},
]


@pytest.fixture
def documents(corpus_rows):
    return [corpus_document(row) for row in corpus_rows]


def test_claims_are_ranked_and_judged_with_spans(documents):
    result = run_connector("literature", documents, options={"claims": CLAIMS})
    claims = {c["claim_id"]: c for c in result["claims"]}
    assert claims["c1"]["ranking"][0]["document_id"] == "101"
    assert claims["c2"]["ranking"][0]["document_id"] == "102"
    assert claims["c1"]["verdict"] == "SUPPORT"
    assert claims["c2"]["verdict"] == "CONTRADICT"
    assert claims["c3"]["verdict"] == "NOT_ENOUGH_INFO" and claims["c3"]["evidence"] == []
    assert claims["c1"]["evidence"][0]["span"]["quote"].startswith("Daily aspirin use")
    assert invalid_spans(result, {d.document_id: d.text for d in documents}) == []
    scores = [entry["score"] for entry in claims["c1"]["ranking"]]
    assert scores == sorted(scores, reverse=True)


def test_questions_get_a_synthesis_whose_sentences_cite_papers(documents):
    result = run_connector("literature", documents, options={"claims": CLAIMS[3:]})
    (synthesis,) = result["synthesis"]
    assert synthesis["question"] == CLAIMS[3]["question"]
    assert synthesis["sentences"]
    cited = set()
    for sentence in synthesis["sentences"]:
        assert sentence["citations"]
        assert f"[{sentence['citations'][0]}]" in sentence["text"]
        cited.update(sentence["citations"])
    assert {"103", "104"} <= cited


def test_title_and_abstract_make_the_text():
    document = corpus_document({"doc_id": 7, "title": "T", "abstract": ["One.", "Two."]})
    assert document.document_id == "7" and document.text == "T\n\nOne. Two."
    assert [document.text[a:b] for a, b in document.metadata["sentences"]] == ["One.", "Two."]
    assert "sentences" not in corpus_document({"doc_id": 7, "abstract": "One. Two."}).metadata


def test_rationale_indices_read_in_the_corpus_s_own_sentences():
    sentences = ["Levels rose +/-", "2 units in NF-kB. However, they fell.", "The end."]
    listed = corpus_document({"doc_id": 1, "abstract": sentences})
    assert [listed.text[a:b] for a, b in rationale_sentences(listed, [1, 2])] == sentences[1:]


def test_an_empty_listed_sentence_keeps_the_later_indices():
    document = corpus_document({"doc_id": 1, "title": "T", "abstract": ["One.", " ", "Two.", "Three."]})
    assert document.text == "T\n\nOne. Two. Three."
    assert [document.text[a:b] for a, b in document.metadata["sentences"]] == ["One.", "", "Two.", "Three."]
    assert [document.text[a:b] for a, b in rationale_sentences(document, [2, 3])] == ["Two.", "Three."]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "claims"),
        ({"claims": [{"claim_id": "a"}]}, "claim"),
        ({"claims": [{"claim_id": "a", "claim": "x"}, {"claim_id": "a", "claim": "y"}]}, "twice"),
        ({"claims": [{"claim": "x"}], "top_k": 0}, "top_k"),
    ],
)
def test_bad_claims_raise(documents, options, message):
    with pytest.raises(ValueError, match=message):
        run_connector("literature", documents, options=options)


@pytest.mark.parametrize(
    ("claim", "rationale", "expected"),
    [
        ("Exercise increases memory scores.", "Memory scores increased after exercise.", "SUPPORT"),
        ("Exercise decreases memory scores.", "Memory scores increased after exercise.", "CONTRADICT"),
        (
            "Patients were more vulnerable to malaria.",
            "Patients were more resistant to malaria.",
            "CONTRADICT",
        ),
        ("Drug X reduces mortality.", "Drug X had no significant effect on mortality.", "CONTRADICT"),
        (
            "Drug X has no effect on mortality.",
            "There was no difference in mortality with drug X.",
            "SUPPORT",
        ),
        ("The genome has 2140 base pairs.", "The genome has 7489 base pairs.", "CONTRADICT"),
    ],
)
def test_verdict_contrasts(claim, rationale, expected):
    from connectors.literature.verdict import label_for

    assert label_for(claim, rationale)[0] == expected


def _fake_embed(calls):
    import numpy

    def embed(texts):
        calls.append(len(texts))
        rows = []
        for text in texts:
            vector = numpy.zeros(384, numpy.float32)
            for word in text.lower().split():
                vector[hash(word.strip(".,")) % 384] += 1.0
            rows.append(vector / max(float(numpy.linalg.norm(vector)), 1e-9))
        return numpy.array(rows, dtype=numpy.float32).reshape(len(texts), 384)

    return embed


def test_large_corpora_embed_sentences_only_for_candidates():
    from connectors.base import Document
    from connectors.literature.retrieval import EAGER_SENTENCE_PAPERS, CorpusIndex

    documents = [
        Document(str(i), f"Paper {i} studies topic{i}. It reports result{i}.")
        for i in range(EAGER_SENTENCE_PAPERS + 1)
    ]
    calls = []
    index = CorpusIndex(documents, _fake_embed(calls))
    assert calls == [len(documents)]
    query = "topic7 result7"
    ranking = index.rank(query, _fake_embed([])([query])[0], top_k=3, rerank_depth=5)
    assert index.items[ranking[0][0]].document.document_id == "7"
    assert calls[1] == 10 and sum(item.sentence_vectors is not None for item in index.items) == 5


def test_given_paper_embeddings_are_used_and_checked():
    import numpy

    from connectors.base import Document
    from connectors.literature.retrieval import CorpusIndex

    vector = numpy.zeros(384)
    vector[3] = 2.0
    calls = []
    index = CorpusIndex(
        [Document("a", "One sentence.", metadata={"embedding": vector.tolist()})], _fake_embed(calls)
    )
    assert calls == [] and index.vectors[0][3] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="384"):
        CorpusIndex([Document("a", "x", metadata={"embedding": [1.0, 2.0]})], _fake_embed(calls))


def test_the_run_embeds_through_the_embedder_it_is_handed(documents):
    calls = []
    result = run_connector("literature", documents, options={"claims": CLAIMS[:1]}, embed=_fake_embed(calls))
    assert calls and calls[-1] == 1
    assert result["claims"][0]["ranking"]


def test_a_listed_abstract_s_sentence_offsets_hold_in_the_normalised_text_the_spans_refer_to():
    from connectors.base import prepare_documents
    from connectors.evaluation import rationale_sentences
    from connectors.loaders import corpus_document

    row = {
        "doc_id": "7",
        "title": "Cafe\u0301s and sleep",
        "abstract": ["Cafe\u0301 drinkers\r\nslept less.", "Tea drinkers did not."],
    }
    [document] = prepare_documents([corpus_document(row)])
    assert [document.text[s:e] for s, e in rationale_sentences(document, [0, 1])] == [
        "Caf\u00e9 drinkers\nslept less.",
        "Tea drinkers did not.",
    ]
    [plain] = prepare_documents([corpus_document({**row, "abstract": " ".join(row["abstract"])})])
    assert [plain.text[s:e] for s, e in rationale_sentences(plain, [1])] == ["Tea drinkers did not."]


def test_a_synthesis_sentence_whose_spans_are_all_lost_is_dropped_and_counted(documents):
    result = run_connector("literature", documents, options={"claims": CLAIMS[3:]})
    (synthesis,) = result["synthesis"]
    assert len(synthesis["sentences"]) >= 2
    kept = [sentence["text"] for sentence in synthesis["sentences"][1:]]
    lose(synthesis["sentences"][0]["spans"])
    report = stored("literature", result, {d.document_id: d.text for d in documents})
    (settled,) = report.output["synthesis"]
    assert [sentence["text"] for sentence in settled["sentences"]] == kept
    assert all(sentence["spans"] for sentence in settled["sentences"])
    assert report.dropped == 1 and "1 finding(s) dropped" in report.output["warnings"][-1]


def test_a_claim_whose_evidence_is_all_lost_gets_no_verdict_beyond_not_enough_info(documents):
    from connectors.literature.connector import NO_EVIDENCE_CONFIDENCE

    result = run_connector("literature", documents, options={"claims": CLAIMS[:2]})
    supported, contradicted = result["claims"]
    assert supported["verdict"] == "SUPPORT" and contradicted["verdict"] == "CONTRADICT"
    lose([entry["span"] for entry in supported["evidence"]])
    report = stored("literature", result, {d.document_id: d.text for d in documents})
    settled, kept = report.output["claims"]
    assert settled["verdict"] == "NOT_ENOUGH_INFO" and settled["evidence"] == []
    assert settled["confidence"] == NO_EVIDENCE_CONFIDENCE
    assert settled["unverified"] == {"verdict": "SUPPORT", "confidence": supported["confidence"]}
    assert settled["ranking"] == supported["ranking"]
    assert kept["verdict"] == "CONTRADICT" and kept["evidence"] and "unverified" not in kept
    assert "1 claim verdict(s) set to NOT_ENOUGH_INFO" in report.output["warnings"][-1]


def test_a_claim_judged_not_enough_info_from_the_start_is_left_as_it_is(documents):
    result = run_connector("literature", documents, options={"claims": CLAIMS[2:3]})
    (claim,) = result["claims"]
    report = stored("literature", result, {d.document_id: d.text for d in documents})
    assert report.output["claims"] == [claim] and not report.output.get("warnings")


PAPERS = [
    (
        "p_vitd",
        "Vitamin D supplementation and fracture risk in older adults",
        "Background: Fractures are a major cause of morbidity in older adults. Methods: We conducted a randomized "
        "controlled trial of 2,400 adults aged 70 and older who received 800 IU of vitamin D daily or placebo for "
        "three years. Results: Vitamin D supplementation reduced the incidence of hip fractures by 23% compared "
        "with placebo. No significant difference was observed in non-vertebral fractures. Conclusion: Daily "
        "vitamin D supplementation lowers hip fracture risk in older adults.",
    ),
    (
        "p_coffee",
        "Coffee consumption and type 2 diabetes: a prospective cohort study",
        "We followed 48,000 adults for 12 years. Participants who drank four or more cups of coffee per day had a "
        "30% lower risk of developing type 2 diabetes than non-drinkers.",
    ),
]


def test_a_paper_uploaded_as_title_blank_line_abstract_is_read_as_the_corpus_line_is():
    claim = {"claims": [{"claim": "Vitamin D supplementation reduces hip fracture risk in older adults."}]}
    uploaded = [Document(i, f"{t}\n\n{a}", "text", {"filename": f"{i}.txt"}) for i, t, a in PAPERS]
    listed = [Document(i, f"{t}\n\n{a}", "text", {"title": t}) for i, t, a in PAPERS]
    read = [run_connector("literature", docs, options=claim)["claims"][0] for docs in (uploaded, listed)]
    assert [r["verdict"] for r in read] == ["SUPPORT", "SUPPORT"]
    assert read[0]["evidence"] == read[1]["evidence"]
    assert all(
        not e["span"]["quote"].startswith("Vitamin D supplementation and") for e in read[0]["evidence"]
    )


def test_a_papers_title_is_its_metadatas_else_a_one_line_first_paragraph():
    from connectors.text import paper_title

    assert paper_title("Title line\n\nAbstract.", {}) == "Title line"
    assert paper_title("Title line\n\nAbstract.", {"title": ""}) == ""
    assert paper_title("Background: one sentence.\n\nMore.", {}) == ""
    assert paper_title("Two\nlines\n\nAbstract.", {}) == ""
    assert paper_title("Only a title\n\n  ", {}) == "" and paper_title("No blank line.", {}) == ""

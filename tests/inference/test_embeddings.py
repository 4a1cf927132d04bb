import random

import numpy
import pytest
import sentence_transformers

from inference import embeddings
from inference.client import embed_local
from inference.embeddings import EMBEDDING_DIM, MAX_SEQ_LENGTH, count_tokens, embed_texts

# Texts whose fp32 similarities to two neighbours differ by less than this may swap neighbours under int8 (three
# of VARIED's texts sit at 0.230, 0.230 and 0.229 from one text).
NEAREST_TIE = 0.005
SENTENCES = ["Governing law is Delaware.", "Revenue rose 12% to $1.2 billion.", "", "word " * 400]

VARIED = [
    "",
    "   ",
    "indemnification",
    "Revenue rose 12% to $1.2 billion in the third quarter, ahead of guidance.",
    "Der Vertrag unterliegt deutschem Recht. Über Änderungen entscheidet das Schiedsgericht in Zürich.",
    "本协议受特拉华州法律管辖。 契約は東京地方裁判所の専属管轄とする。",
    "Emoji and symbols 🚀 ≥ ≤ ∑ — “quoted” naïve café façade.",
    "term " * 300,
    " ".join(f"clause{i} survives termination" for i in range(120)),
    "The licensee shall not sublicense, assign or transfer the software without prior written consent. " * 4,
    "Protein expression increased in treated cells (p < 0.01), consistent with the model.",
    "a",
]


@pytest.fixture(scope="module")
def sentence_transformer():
    return sentence_transformers.SentenceTransformer(str(embeddings.model_dir()), device="cpu")


def _token_count(text: str) -> int:
    tokenizer, _ = embeddings._load()
    return len(tokenizer.encode(text).ids)


def _assert_agrees(ours: numpy.ndarray, expected: numpy.ndarray) -> None:
    assert ours.shape == expected.shape
    cosines = (ours * expected).sum(axis=1) / numpy.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert numpy.abs(ours - expected).max() < 1e-4


def test_shape_dtype_and_unit_norm():
    vectors = embed_texts(SENTENCES)
    assert vectors.shape == (4, EMBEDDING_DIM) and vectors.dtype == numpy.float32
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed_texts([]).shape == (0, EMBEDDING_DIM)


def test_varied_texts_cover_truncation_and_mixed_lengths():
    counts = [_token_count(text) for text in VARIED]
    assert max(counts) == MAX_SEQ_LENGTH and counts.count(MAX_SEQ_LENGTH) >= 2
    assert min(counts) == 2 and len(set(counts)) >= 8


def test_matches_sentence_transformers_on_varied_texts(sentence_transformer):
    expected = sentence_transformer.encode(VARIED, normalize_embeddings=True)
    _assert_agrees(embed_texts(VARIED), expected)
    _assert_agrees(embed_texts(VARIED, batch_size=3), expected)


def test_matches_sentence_transformers_per_text(sentence_transformer):
    for text in ["", "a", "word " * 400, "本协议受特拉华州法律管辖。"]:
        _assert_agrees(embed_texts([text]), sentence_transformer.encode([text], normalize_embeddings=True))


def _require(kernel: str) -> None:
    if embeddings._probe()[kernel] == float("inf"):
        pytest.skip(f"this torch build has no {kernel} kernel")


@pytest.mark.parametrize("kernel", sorted(embeddings.INT8_KERNELS))
def test_int8_stays_close_to_fp32_and_keeps_nearest_neighbours(sentence_transformer, kernel):
    _require(kernel)
    expected = sentence_transformer.encode(VARIED, normalize_embeddings=True)
    vectors = embed_texts(VARIED, quantized=kernel)
    cosines = (vectors * expected).sum(axis=1)
    assert cosines.min() >= 0.98 and cosines.mean() >= 0.99, cosines
    assert numpy.abs(vectors - expected).max() > 1e-4
    similarities, reference = vectors @ vectors.T, expected @ expected.T
    numpy.fill_diagonal(similarities, -1)
    numpy.fill_diagonal(reference, -1)
    rows = numpy.arange(len(VARIED))
    nearest = reference[rows, similarities.argmax(axis=1)]
    assert (reference.max(axis=1) - nearest <= NEAREST_TIE).all(), (nearest, reference.max(axis=1))


@pytest.mark.parametrize("kernel", sorted(embeddings.INT8_KERNELS))
def test_a_projection_of_gelu_outputs_bounds_rows_by_their_largest_value(kernel):
    import torch
    from torch.nn.functional import gelu

    _require(kernel)
    assert gelu(torch.linspace(-8, 8, 160_001)).min() > -embeddings.GELU_MINIMUM
    generator = torch.Generator().manual_seed(1)
    weight, bias = torch.randn(1536, 384, generator=generator) / 40, torch.randn(384, generator=generator)
    linear = embeddings._Linear(weight, bias)
    # Rows as the encoder's intermediate layer gives them (the smallest largest value seen is above 0.3).
    inputs = gelu(torch.randn(64, 1536, generator=generator) * torch.linspace(0.3, 4, 64)[:, None])
    assert inputs.amax(1).min() > embeddings.GELU_MINIMUM
    build = embeddings.INT8_KERNELS[kernel].of
    assert torch.equal(build(linear, reads_gelu=True)(inputs), build(linear)(inputs))
    tiny = gelu(torch.randn(4, 1536, generator=generator) * 0.05)
    assert torch.allclose(build(linear, reads_gelu=True)(tiny), linear(tiny), atol=0.05)


def test_matches_sentence_transformers_across_token_budget_batches(sentence_transformer):
    rng = random.Random(7)
    words = ["agreement", "revenue", "notice", "delaware", "protein", "margin", "renewal", "cash"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 300))) for _ in range(60)]
    vectors = embed_texts(texts)
    _assert_agrees(vectors, sentence_transformer.encode(texts, normalize_embeddings=True))


def test_order_preserved_under_permutation():
    permutation = list(reversed(range(len(VARIED))))
    random.Random(3).shuffle(permutation)
    vectors = embed_texts(VARIED)
    permuted = embed_texts([VARIED[i] for i in permutation])
    assert numpy.allclose(permuted, vectors[permutation], atol=1e-5)
    assert not numpy.allclose(permuted, vectors, atol=1e-2)


def test_duplicates_get_identical_rows():
    vectors = embed_texts(["same text", "other text", "same text"])
    assert numpy.allclose(vectors[0], vectors[2], atol=1e-6)
    assert not numpy.allclose(vectors[0], vectors[1], atol=1e-2)


def test_batching_does_not_change_results():
    assert numpy.allclose(
        embed_texts(VARIED, batch_size=1),
        embed_texts(VARIED, batch_size=64),
        atol=1e-5,
    )


@pytest.mark.parametrize("kernel", sorted(embeddings.INT8_KERNELS))
def test_batching_moves_int8_vectors_by_rounding_only(kernel):
    _require(kernel)
    # Short and medium texts only: one at a time, `int_mm` takes seconds a text at the 256-token cap on CPUs
    # without VNNI; the fp32 batching test covers the cap.
    texts = [text for text in VARIED if count_tokens(text) < 128]
    alone = embed_texts(texts, batch_size=1, quantized=kernel)
    batched = embed_texts(texts, batch_size=64, quantized=kernel)
    assert (alone * batched).sum(axis=1).min() >= 0.995


def test_batches_cover_every_text_once_within_limits():
    lengths = numpy.array([2, 256, 17, 17, 17, 100, 256, 5, 64, 64, 3] * 20)
    order = numpy.argsort(lengths, kind="stable")
    batches = embeddings._batches(lengths, order, batch_size=16)
    assert sorted(numpy.concatenate(batches).tolist()) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= 16
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= embeddings.BATCH_TOKEN_BUDGET
        assert list(lengths[batch]) == sorted(lengths[batch])


def test_similar_sentences_are_closer():
    a, b, c = embed_texts(
        ["The cat sleeps on the sofa.", "A cat is napping on the couch.", "Quarterly revenue grew."]
    )
    assert a @ b > a @ c


def test_bad_input():
    with pytest.raises(ValueError, match="single string"):
        embed_texts("one string")
    with pytest.raises(ValueError, match=r"texts\[1\] is int"):
        embed_texts(["ok", 3])
    with pytest.raises(ValueError, match="batch_size"):
        embed_texts(["ok"], batch_size=0)
    with pytest.raises(ValueError, match=r"texts\[0\] is NoneType"):
        embed_texts([None])
    with pytest.raises(ValueError, match="quantized must be a bool or one of"):
        embed_texts(["ok"], quantized="int4")


@pytest.mark.parametrize(
    ("slow", "faster", "kernel"),
    [
        (("_Int8Linear", "_PackedInt8Linear"), False, None),
        (("_Linear", "_Int8Linear"), True, "packed"),
        (("_Linear", "_PackedInt8Linear"), True, "int_mm"),
    ],
)
def test_the_faster_int8_kernel_is_chosen_only_where_it_beats_fp32_and_probed_once(
    monkeypatch, slow, faster, kernel
):
    import time

    for name in slow:
        slowed = getattr(embeddings, name)

        # Far above `int_mm` on an AVX2-only core (about 40 ms for the probe's shape), under load too.
        def slower(self, x, original=slowed.__call__):
            time.sleep(0.2)
            return original(self, x)

        monkeypatch.setattr(slowed, "__call__", slower)
    probes = []
    timed = embeddings._time_kernels
    monkeypatch.setattr(embeddings, "_time_kernels", lambda: probes.append(1) or timed())
    monkeypatch.setattr(embeddings, "_probe_seconds", None)
    assert embeddings.int8_is_faster() is faster
    assert embeddings.int8_is_faster() is faster
    if kernel is not None:
        assert embeddings.int8_kernel() == kernel
    assert probes == [1]


def test_a_burst_of_load_while_one_kernel_is_timed_does_not_decide_the_probe(monkeypatch):
    import time

    kernel = embeddings.int8_kernel()
    if not embeddings.int8_is_faster():
        pytest.skip("int8 is not faster than fp32 on this CPU")
    projection = embeddings.INT8_KERNELS[kernel]
    calls = []

    def loaded(self, x, original=projection.__call__):
        calls.append(1)
        if 2 <= len(calls) <= embeddings.PROBE_ROUNDS // 2 + 1:
            time.sleep(0.05)
        return original(self, x)

    monkeypatch.setattr(projection, "__call__", loaded)
    seconds = embeddings._time_kernels()
    assert len(calls) == embeddings.PROBE_ROUNDS + 1
    assert seconds[kernel] < 0.05, seconds


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("Didn't find engine for operation quantized::linear_prepack NoQEngine"),
        AttributeError("module 'torch' has no attribute 'quantize_per_channel'"),
    ],
)
def test_a_kernel_the_build_lacks_is_never_chosen(monkeypatch, error):
    def missing(cls, linear, input_norm=None):
        raise error

    monkeypatch.setattr(embeddings._PackedInt8Linear, "of", classmethod(missing))
    monkeypatch.setattr(embeddings, "_probe_seconds", None)
    assert embeddings.int8_kernel() == "int_mm"
    assert embeddings._probe()["packed"] == float("inf")
    assert embed_texts(["indemnification"], quantized=True).shape == (1, EMBEDDING_DIM)
    assert not embeddings.kernel_available("packed") and embeddings.kernel_available("int_mm")
    fallback = embed_local(["indemnification"], quantized="packed")
    assert numpy.array_equal(fallback, embed_texts(["indemnification"]))

import numpy
import pytest

from inference.embeddings import EMBEDDING_DIM, embed_texts

SENTENCES = ["Governing law is Delaware.", "Revenue rose 12% to $1.2 billion.", "", "word " * 400]


def test_shape_dtype_and_unit_norm():
    vectors = embed_texts(SENTENCES)
    assert vectors.shape == (4, EMBEDDING_DIM) and vectors.dtype == numpy.float32
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed_texts([]).shape == (0, EMBEDDING_DIM)


def test_batching_does_not_change_results():
    assert numpy.allclose(
        embed_texts(SENTENCES, batch_size=1), embed_texts(SENTENCES, batch_size=64), atol=1e-5
    )


def test_matches_sentence_transformers():
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from inference.embeddings import model_dir

    reference = sentence_transformers.SentenceTransformer(str(model_dir()), device="cpu")
    expected = reference.encode(SENTENCES, normalize_embeddings=True)
    assert numpy.abs(embed_texts(SENTENCES) - expected).max() < 1e-4


def test_similar_sentences_are_closer():
    a, b, c = embed_texts(
        ["The cat sleeps on the sofa.", "A cat is napping on the couch.", "Quarterly revenue grew."]
    )
    assert a @ b > a @ c


def test_bad_input():
    with pytest.raises(ValueError):
        embed_texts("one string")
    with pytest.raises(ValueError):
        embed_texts(["ok", 3])
    with pytest.raises(ValueError):
        embed_texts(["ok"], batch_size=0)

"""The chunk encoder: the shipped adapter loads offline and gives the full encoder's vectors closely enough for
its queries to find the chunks; distilling is reproducible and moves the layers toward the full encoder; the
training command writes the adapter and lists what it read."""

import json
from pathlib import Path

import numpy
import pytest
from django.core.management import CommandError, call_command

from connectors.legal.training import CUAD_TEST_SPLIT, HELDOUT_LABELS
from inference import distil, embeddings
from inference.embeddings import ADAPTER_FILE, CHUNK_ENCODER_DIR, embed_chunks, embed_texts
from quire.documents.management.commands.quire_chunk_encoder_train import Command
from tests.support.documents import CONTRACT

CHUNKS = [
    "This Agreement shall be governed by and construed in accordance with the laws of the State of Delaware, "
    "without regard to its conflict of laws principles.",
    "Either party may terminate this Agreement for convenience upon ninety (90) days' prior written notice to the "
    "other party.",
    "In no event shall either party's aggregate liability arising out of this Agreement exceed the fees paid in "
    "the twelve (12) months preceding the claim.",
    "Licensee shall not assign this Agreement, by operation of law or otherwise, without Licensor's prior written "
    "consent.",
    "During the term and for two years after, Distributor shall not sell any product that competes with the "
    "Products in the Territory.",
]
QUERIES = [
    "Governing Law",
    "Termination For Convenience",
    "Cap On Liability",
    "Anti-Assignment",
    "Non-Compete",
]


def _cosines(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    return (a * b).sum(axis=1)


def test_the_shipped_adapter_loads_offline_and_is_small():
    path = CHUNK_ENCODER_DIR / ADAPTER_FILE
    assert path.stat().st_size < 5 * 1024 * 1024
    keep, tensors = embeddings.load_adapter(path)
    assert keep == distil.KEEP and len(embeddings._chunk_encoder().layers) == len(keep) < 6
    assert tensors["0.0.a"].shape == (384, distil.RANK)
    assert (CHUNK_ENCODER_DIR / "MODEL_CARD.md").read_text(encoding="utf-8").strip()


def test_it_was_trained_on_no_test_heldout_or_repository_contract():
    trained_on = (CHUNK_ENCODER_DIR / "TRAINED_ON.txt").read_text(encoding="utf-8").splitlines()
    ours = {
        json.loads(line)["source_file"] for line in HELDOUT_LABELS.read_text(encoding="utf-8").splitlines()
    }
    assert len(trained_on) >= 50 and len(set(trained_on)) == len(trained_on)
    assert not set(trained_on) & (CUAD_TEST_SPLIT | ours)


def test_chunk_vectors_are_the_full_encoders_and_its_queries_find_them():
    texts = [*CHUNKS, *CONTRACT.split("\n\n")]
    full, chunks = embed_texts(texts), embed_chunks(texts)
    assert chunks.shape == full.shape and numpy.allclose(numpy.linalg.norm(chunks, axis=1), 1, atol=1e-5)
    distilled = _cosines(chunks, full)
    encoder = embeddings._load()[1]
    untrained = distil._student(encoder, distil.KEEP, distil.RANK, seed=0)
    plain = encoder.adapted(distil.KEEP, {name: tensor.detach() for name, tensor in untrained.items()})
    embeddings._chunk_runtime, kept = plain, embeddings._chunk_runtime
    try:
        layers_only = _cosines(embed_chunks(texts), full)
    finally:
        embeddings._chunk_runtime = kept
    assert distilled.mean() > 0.9 and distilled.mean() > layers_only.mean() + 0.1, (distilled, layers_only)
    scores = embed_texts(QUERIES) @ chunks[: len(CHUNKS)].T
    assert list(scores.argmax(axis=1)) == list(range(len(QUERIES)))


def test_the_chunk_encoder_runs_in_int8_too():
    fp32 = embed_chunks(CHUNKS)
    for kernel in embeddings.INT8_KERNELS:
        if kernel == "int_mm" and not embeddings.int8_is_faster():
            continue
        assert _cosines(embed_chunks(CHUNKS, quantized=kernel), fp32).min() > 0.98


def test_distilling_is_reproducible_and_moves_the_layers_toward_the_full_encoder():
    texts = CHUNKS * 3
    first = distil.distil(texts, epochs=3, seed=1)
    again = distil.distil(texts, epochs=3, seed=1)
    assert first.keys() == again.keys()
    assert all(numpy.allclose(first[name].numpy(), again[name].numpy(), atol=1e-5) for name in first)
    encoder = embeddings._load()[1]
    untrained = {
        name: t.detach() for name, t in distil._student(encoder, distil.KEEP, distil.RANK, 1).items()
    }
    full = embed_texts(CHUNKS)

    def cosine(tensors):
        embeddings._chunk_runtime, kept = encoder.adapted(distil.KEEP, tensors), embeddings._chunk_runtime
        try:
            return _cosines(embed_chunks(CHUNKS), full).mean()
        finally:
            embeddings._chunk_runtime = kept

    assert cosine(first) > cosine(untrained) + 0.02


def test_an_adapter_survives_a_save_and_load(tmp_path):
    tensors = {name: t.detach() for name, t in distil._student(embeddings._load()[1], (0, 5), 2, 0).items()}
    distil.save_adapter(tmp_path / "a.safetensors", tensors, (0, 5))
    keep, loaded = embeddings.load_adapter(tmp_path / "a.safetensors")
    assert keep == (0, 5) and all(numpy.array_equal(loaded[n].numpy(), tensors[n].numpy()) for n in tensors)
    with pytest.raises(ValueError, match="at least one text"):
        distil.distil([])


def _data_dir(root: Path, names: list[str]) -> Path:
    (root / "cuad" / "contracts").mkdir(parents=True)
    rows = []
    for position, name in enumerate(names):
        document_id = f"cuad_{position:03d}"
        (root / "cuad" / "contracts" / f"{document_id}.txt").write_text(CONTRACT, encoding="utf-8")
        rows.append({"document_id": document_id, "source_file": name, "split": "dev", "clauses": {}})
    (root / "cuad" / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def test_the_training_command_writes_the_adapter_and_what_it_read(tmp_path):
    test_contract = sorted(CUAD_TEST_SPLIT)[0]
    data = _data_dir(tmp_path / "data", ["Beta Supply Agreement", "Alpha License Agreement", test_contract])
    out = tmp_path / "out"
    call_command(Command(), data=data, contracts=5, epochs=1, out=out)
    keep, tensors = embeddings.load_adapter(out / ADAPTER_FILE)
    assert keep == distil.KEEP and "3.output_norm.bias" in tensors
    assert (out / "TRAINED_ON.txt").read_text(
        encoding="utf-8"
    ) == "Alpha License Agreement\nBeta Supply Agreement\n"
    with pytest.raises(CommandError, match="no training contracts"):
        call_command(Command(), data=_data_dir(tmp_path / "test", [test_contract]), out=out)
    with pytest.raises(CommandError, match="prepare legal"):
        call_command(Command(), data=tmp_path / "missing", out=out)

"""The chunk encoder: the shipped adapter loads offline and gives the full encoder's vectors closely enough for
its queries to find the chunks; distilling is reproducible and moves the layers toward the full encoder; the
training command writes the adapter and lists what it read."""

import json
from pathlib import Path

import numpy
import pytest
import torch
from django.core.management import CommandError, call_command

from connectors.legal.training import CUAD_TEST_SPLIT, HELDOUT_LABELS
from connectors.literature.training import EVALUATION_CLAIMS
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
    for j in range(len(keep)):
        assert tensors[f"{j}.intermediate"].unique().numel() == distil.WIDTH < 1536
        assert embeddings._chunk_encoder().layers[j].fp32[2].weight.shape == (384, distil.WIDTH)
        assert embeddings._chunk_encoder().layers[j].fp32[3].weight.shape == (distil.WIDTH, 384)
    assert embeddings.adapter_metadata(path)["non_commercial"] == "false"
    assert "Commercial use allowed" in (CHUNK_ENCODER_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")


def _fresh_chunk_encoder(monkeypatch, directory: Path | None = None) -> None:
    if directory is not None:
        monkeypatch.setattr(embeddings, "CHUNK_ENCODER_DIR", directory)
    monkeypatch.setattr(embeddings, "_chunk_runtime", None)
    monkeypatch.setattr(embeddings, "_chunk_name", None)


def test_a_build_without_the_adapter_stores_the_full_encoders_vectors(tmp_path, monkeypatch):
    _fresh_chunk_encoder(monkeypatch, tmp_path)
    assert embeddings.chunk_adapter() is None
    assert numpy.allclose(embed_chunks(CHUNKS), embed_texts(CHUNKS), atol=1e-6)
    assert embeddings.encoder_name(chunks=True) == embeddings.ENCODER_NAME


@pytest.mark.parametrize("marked", [True, False])
@pytest.mark.parametrize("commercial", ["true", "false"])
def test_a_commercial_deployment_never_loads_an_adapter_marked_non_commercial(
    marked, commercial, tmp_path, monkeypatch
):
    keep, tensors = embeddings.load_adapter(CHUNK_ENCODER_DIR / ADAPTER_FILE)
    distil.save_adapter(tmp_path / ADAPTER_FILE, tensors, keep, non_commercial=marked)
    monkeypatch.setenv("QUIRE_COMMERCIAL", commercial)
    _fresh_chunk_encoder(monkeypatch, tmp_path)
    if marked and commercial == "true":
        assert embeddings.chunk_adapter() is None
        assert embeddings.encoder_name(chunks=True) == embeddings.ENCODER_NAME
        assert numpy.allclose(embed_chunks(CHUNKS), embed_texts(CHUNKS), atol=1e-6)
    else:
        assert embeddings.chunk_adapter() == tmp_path / ADAPTER_FILE
        assert embeddings.encoder_name(chunks=True) != embeddings.ENCODER_NAME
        assert len(embeddings._chunk_encoder().layers) == len(keep)


def test_the_chunk_encoders_name_follows_its_adapters_bytes(tmp_path, monkeypatch):
    import hashlib

    shipped = embeddings.encoder_name(chunks=True)
    digest = hashlib.sha256((CHUNK_ENCODER_DIR / ADAPTER_FILE).read_bytes()).hexdigest()
    assert shipped == f"all-MiniLM-L6-v2+chunk-{digest[:12]}"
    assert embeddings.encoder_name(chunks=False) == "all-MiniLM-L6-v2"
    distil.save_adapter(tmp_path / ADAPTER_FILE, {"retrained": torch.ones(1)})
    _fresh_chunk_encoder(monkeypatch, tmp_path)
    assert embeddings.encoder_name(chunks=True) not in (shipped, embeddings.ENCODER_NAME)


def test_it_was_trained_on_no_test_heldout_or_repository_document():
    trained_on = (CHUNK_ENCODER_DIR / "TRAINED_ON.txt").read_text(encoding="utf-8").splitlines()
    assert len(set(trained_on)) == len(trained_on)
    calls = {
        line.removeprefix("ects/").removesuffix(".txt") for line in trained_on if line.startswith("ects/")
    }
    papers = {line.split(":")[1] for line in trained_on if line.startswith("corpus.jsonl:")}
    contracts = set(trained_on) - {line for line in trained_on if line.startswith(("ects/", "corpus.jsonl:"))}
    ours = {
        json.loads(line)["source_file"] for line in HELDOUT_LABELS.read_text(encoding="utf-8").splitlines()
    }
    assert len(contracts) >= 50 and not contracts & (CUAD_TEST_SPLIT | ours)
    ectsum = (EVALUATION_CLAIMS.parents[1] / "ectsum" / "labels.jsonl").read_text(encoding="utf-8")
    assert len(calls) >= 50 and not calls & {json.loads(line)["document_id"] for line in ectsum.splitlines()}
    scifact = (EVALUATION_CLAIMS.parent / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    assert not papers & {str(json.loads(line)["doc_id"]) for line in scifact}
    marked = embeddings.adapter_metadata(CHUNK_ENCODER_DIR / ADAPTER_FILE)["non_commercial"]
    assert marked == ("true" if papers else "false")


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
    assert distilled.mean() > 0.85 and distilled.mean() > layers_only.mean() + 0.1, (distilled, layers_only)
    scores = embed_texts(QUERIES) @ chunks[: len(CHUNKS)].T
    assert list(scores.argmax(axis=1)) == list(range(len(QUERIES)))


def test_the_units_kept_carry_more_of_the_layers_than_as_many_chosen_at_random():
    tokenizer, encoder = embeddings._load()
    token_ids = [e.ids for e in tokenizer.encode_batch([*CHUNKS, *CONTRACT.split("\n\n")])]
    chosen = distil.intermediate_units(encoder, distil.KEEP, token_ids, 384)
    generator = torch.Generator().manual_seed(0)
    drawn = {j: torch.randperm(1536, generator=generator)[:384].sort().values for j in chosen}
    assert all(len(units) == 384 and bool((units.diff() > 0).all()) for units in chosen.values())
    full = embed_texts(CHUNKS)

    def cosine(units):
        tensors = {n: t.detach() for n, t in distil._student(encoder, distil.KEEP, 2, 0, units).items()}
        adapted = encoder.adapted(distil.KEEP, tensors)
        embeddings._chunk_runtime, kept = adapted, embeddings._chunk_runtime
        try:
            vectors = embed_chunks(CHUNKS)
        finally:
            embeddings._chunk_runtime = kept
        ids, lengths = distil._padded(token_ids, list(range(len(CHUNKS))))
        with torch.no_grad():
            trained_forward = distil._forward(encoder, distil.KEEP, tensors, ids, lengths).numpy()
        assert numpy.allclose(trained_forward, vectors, atol=1e-5)
        return _cosines(vectors, full).mean()

    assert cosine(chosen) > cosine(drawn) + 0.02


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
    units = {j: first[f"{j}.intermediate"] for j in range(len(distil.KEEP))}
    assert all(len(kept) == distil.WIDTH for kept in units.values())
    untrained = {
        name: t.detach() for name, t in distil._student(encoder, distil.KEEP, distil.RANK, 1, units).items()
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
    units = {0: torch.arange(0, 1536, 3), 1: torch.arange(1, 1536, 2)}
    tensors = {
        name: t.detach() for name, t in distil._student(embeddings._load()[1], (0, 5), 2, 0, units).items()
    }
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


def _ectsum_dir(root: Path) -> Path:
    for folder in ("ects", "gt_summaries"):
        (root / folder).mkdir(parents=True)
    for call in ("ZZZ_q1_2021", "AAA_q4_2020"):
        (root / "ects" / f"{call}.txt").write_text(
            "Revenue rose 12% to $1.2 billion.\nWe expect margins to expand next year.\n", encoding="utf-8"
        )
        (root / "gt_summaries" / f"{call}.txt").write_text("q1 revenue $1.2 billion.\n", encoding="utf-8")
    return root


def _scifact_dir(root: Path) -> Path:
    ours = json.loads((EVALUATION_CLAIMS.parent / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[0])
    papers = [
        {
            "doc_id": 901,
            "title": "Statins and muscle pain",
            "abstract": ["Statins raised pain.", "N was 40."],
        },
        {"doc_id": 902, "title": "Never cited", "abstract": ["Nobody cites this."]},
        {"doc_id": int(ours["doc_id"]), "title": "", "abstract": [ours["abstract"]]},
    ]
    claims = [
        {"id": 90001, "claim": "Statins cause muscle pain.", "evidence": {}, "cited_doc_ids": [901]},
        {
            "id": 90002,
            "claim": "A claim on a held-out paper.",
            "evidence": {},
            "cited_doc_ids": [ours["doc_id"]],
        },
    ]
    root.mkdir()
    for name, rows in (("corpus.jsonl", papers), ("claims_train.jsonl", claims)):
        (root / name).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return root


def test_the_training_command_writes_the_adapter_and_what_it_read(tmp_path):
    test_contract = sorted(CUAD_TEST_SPLIT)[0]
    data = _data_dir(tmp_path / "data", ["Beta Supply Agreement", "Alpha License Agreement", test_contract])
    out = tmp_path / "out"
    call_command(
        Command(),
        data=data,
        contracts=5,
        ectsum=_ectsum_dir(tmp_path / "ectsum"),
        calls=1,
        scifact=_scifact_dir(tmp_path / "scifact"),
        epochs=1,
        out=out,
    )
    keep, tensors = embeddings.load_adapter(out / ADAPTER_FILE)
    assert keep == distil.KEEP and "3.output_norm.bias" in tensors
    assert embeddings.adapter_metadata(out / ADAPTER_FILE)["non_commercial"] == "true"
    trained_on = (out / "TRAINED_ON.txt").read_text(encoding="utf-8").splitlines()
    assert trained_on[:2] == ["Alpha License Agreement", "Beta Supply Agreement"]
    assert trained_on[2:] in (
        ["ects/AAA_q4_2020.txt", "corpus.jsonl:901"],
        ["ects/ZZZ_q1_2021.txt", "corpus.jsonl:901"],
    )
    with pytest.raises(CommandError, match="no ECTSum calls"):
        call_command(Command(), data=data, ectsum=tmp_path / "data", out=out)
    with pytest.raises(CommandError, match=r"no claims_train\.jsonl or corpus\.jsonl"):
        call_command(Command(), data=data, scifact=tmp_path / "ectsum", out=out)
    with pytest.raises(CommandError, match="no training contracts"):
        call_command(Command(), data=_data_dir(tmp_path / "test", [test_contract]), out=out)
    with pytest.raises(CommandError, match="--width"):
        call_command(Command(), data=data, width=0, out=out)
    with pytest.raises(CommandError, match="prepare legal"):
        call_command(Command(), data=tmp_path / "missing", out=out)

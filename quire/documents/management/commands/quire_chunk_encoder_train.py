import json
import random
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connectors import Document
from connectors.earnings.training import read_split
from connectors.legal.training import HELDOUT_LABELS, TRAIN_SPLIT, excluded_files
from connectors.literature.training import EVALUATION_CLAIMS, load_training_set
from connectors.loaders import corpus_document, load_corpus
from inference.distil import EPOCHS, KEEP, WIDTH, distil, save_adapter
from inference.embeddings import ADAPTER_FILE, CHUNK_ENCODER_DIR, embed_texts
from quire.documents.chunking import chunk_text, embedding_texts


class Command(BaseCommand):
    help = (
        "Rebuild the chunk encoder's adapter (inference/chunk_encoder) from CUAD's training contracts, as "
        "`python -m connectors prepare legal` writes them, and optionally ECTSum's training calls and the "
        "abstracts SciFact's training claims cite: chunks cut as ingest cuts them, distilled against the full "
        "encoder's vectors."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True, type=Path, help="DIR of `connectors prepare legal`")
        parser.add_argument("--contracts", type=int, default=100, help="how many contracts, a seeded sample")
        parser.add_argument(
            "--ectsum", type=Path, help="ECTSum's train split (as `connectors train earnings`)"
        )
        parser.add_argument("--calls", type=int, default=100, help="how many ECTSum calls, a seeded sample")
        parser.add_argument("--scifact", type=Path, help="SciFact's data (as `connectors train literature`)")
        parser.add_argument("--epochs", type=float, default=EPOCHS)
        parser.add_argument(
            "--width", type=int, default=WIDTH, help="intermediate units each kept layer keeps (of 1,536)"
        )
        parser.add_argument("--out", type=Path, default=CHUNK_ENCODER_DIR)

    def handle(self, *args, data, contracts, ectsum, calls, scifact, epochs, width, out, **options):
        rows = training_rows(data)
        if not rows:
            raise CommandError(f"no training contracts in {data / 'cuad' / 'labels.jsonl'}")
        if contracts < 1:
            raise CommandError("--contracts must be at least 1")
        if not 1 <= width <= 1536:
            raise CommandError("--width must be between 1 and 1536")
        if calls < 1:
            raise CommandError("--calls must be at least 1")
        chosen = sorted(random.Random(0).sample(rows, min(contracts, len(rows))), key=lambda row: row[0])
        documents = [(name, path.read_text(encoding="utf-8")) for name, path in chosen]
        counts = [f"{len(documents)} contracts"]
        if ectsum is not None:
            read = call_texts(ectsum, calls)
            documents += read
            counts.append(f"{len(read)} calls")
        if scifact is not None:
            read = paper_texts(scifact)
            documents += read
            counts.append(f"{len(read)} abstracts")
        texts = []
        for _, text in documents:
            texts += embedding_texts(text, chunk_text(text))
        self.stdout.write(f"{', '.join(counts)}: {len(texts)} chunks; the full encoder's vectors first")
        started = time.monotonic()

        def progress(step: int, steps: int, loss: float) -> None:
            self.stdout.write(
                f"step {step}/{steps}: 1 - cosine {loss:.4f} ({time.monotonic() - started:.0f} s)"
            )

        tensors = distil(texts, targets=embed_texts(texts), epochs=epochs, width=width, progress=progress)
        out.mkdir(parents=True, exist_ok=True)
        save_adapter(out / ADAPTER_FILE, tensors, KEEP, non_commercial=scifact is not None)
        (out / "TRAINED_ON.txt").write_text("".join(f"{name}\n" for name, _ in documents), encoding="utf-8")
        self.stdout.write(f"wrote {out / ADAPTER_FILE} and TRAINED_ON.txt")


def training_rows(data: Path) -> list[tuple[str, Path]]:
    """(CUAD file name, text path) of DIR's training contracts, less the official test split and every contract
    of the repository's tests/data, dev ones included, so the dev split measures the encoder out of sample."""
    labels = data / "cuad" / "labels.jsonl"
    if not labels.exists():
        raise CommandError(f"{labels} not found; build DIR with `python -m connectors prepare legal`")
    ours = {
        json.loads(line)["source_file"] for line in HELDOUT_LABELS.read_text(encoding="utf-8").splitlines()
    }
    excluded = excluded_files(data) | ours
    rows = []
    for line in labels.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] == TRAIN_SPLIT and row["source_file"] not in excluded:
            rows.append((row["source_file"], data / "cuad" / "contracts" / f"{row['document_id']}.txt"))
    return rows


def call_texts(data: Path, calls: int) -> list[tuple[str, str]]:
    """(`ects/<call>.txt`, transcript) of a seeded sample of `calls` of ECTSum's split under `data` (point it at
    the train split: tests/data/ectsum is drawn from the test split)."""
    try:
        rows = read_split(data)
    except (ValueError, StopIteration) as error:
        raise CommandError(f"{data}: no ECTSum calls (ects/*.txt with gt_summaries/*.txt)") from error
    chosen = sorted(random.Random(0).sample(rows, min(calls, len(rows))))
    return [(f"ects/{call}.txt", text) for call, text, _ in chosen]


def paper_texts(data: Path) -> list[tuple[str, str]]:
    """(`corpus.jsonl:<doc_id>`, title and abstract as a document reads) of every paper SciFact's training claims
    cite, less the claims `connectors train literature` leaves out and every paper of tests/data/scifact."""
    missing = [name for name in ("claims_train.jsonl", "corpus.jsonl") if not (data / name).is_file()]
    if missing:
        raise CommandError(f"{data}: no {' or '.join(missing)} (SciFact's data folder)")
    claims, rows, _ = load_training_set(data)
    cited = {doc_id for claim in claims for doc_id in claim["papers"]} - {
        paper.document_id for paper in _our_papers()
    }
    papers = sorted((str(row.get("doc_id", row.get("_id"))), row) for row in rows)
    papers = [(doc_id, row) for doc_id, row in papers if doc_id in cited]
    if not papers:
        raise CommandError(
            f"{data}: no abstract cited by a training claim (claims_train.jsonl, corpus.jsonl)"
        )
    return [(f"corpus.jsonl:{doc_id}", corpus_document(row).text) for doc_id, row in papers]


def _our_papers() -> list[Document]:
    """The papers of tests/data/scifact, which no training text may be."""
    return load_corpus(EVALUATION_CLAIMS.parent / "corpus.jsonl")

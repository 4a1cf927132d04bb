import json
import random
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connectors.legal.training import HELDOUT_LABELS, TRAIN_SPLIT, excluded_files
from inference.distil import EPOCHS, KEEP, distil, save_adapter
from inference.embeddings import ADAPTER_FILE, CHUNK_ENCODER_DIR, embed_texts
from quire.documents.chunking import chunk_text, embedding_texts


class Command(BaseCommand):
    help = (
        "Rebuild the chunk encoder's adapter (inference/chunk_encoder) from CUAD's training contracts, as "
        "`python -m connectors prepare legal` writes them: chunks cut as ingest cuts them, distilled against "
        "the full encoder's vectors."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True, type=Path, help="DIR of `connectors prepare legal`")
        parser.add_argument("--contracts", type=int, default=100, help="how many contracts, a seeded sample")
        parser.add_argument("--epochs", type=float, default=EPOCHS)
        parser.add_argument("--out", type=Path, default=CHUNK_ENCODER_DIR)

    def handle(self, *args, data, contracts, epochs, out, **options):
        rows = training_rows(data)
        if not rows:
            raise CommandError(f"no training contracts in {data / 'cuad' / 'labels.jsonl'}")
        if contracts < 1:
            raise CommandError("--contracts must be at least 1")
        chosen = sorted(random.Random(0).sample(rows, min(contracts, len(rows))), key=lambda row: row[0])
        texts = []
        for _, path in chosen:
            text = path.read_text(encoding="utf-8")
            texts += embedding_texts(text, chunk_text(text))
        self.stdout.write(f"{len(chosen)} contracts, {len(texts)} chunks; the full encoder's vectors first")
        started = time.monotonic()

        def progress(step: int, steps: int, loss: float) -> None:
            self.stdout.write(
                f"step {step}/{steps}: 1 - cosine {loss:.4f} ({time.monotonic() - started:.0f} s)"
            )

        tensors = distil(texts, targets=embed_texts(texts), epochs=epochs, progress=progress)
        out.mkdir(parents=True, exist_ok=True)
        save_adapter(out / ADAPTER_FILE, tensors, KEEP)
        (out / "TRAINED_ON.txt").write_text("".join(f"{name}\n" for name, _ in chosen), encoding="utf-8")
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

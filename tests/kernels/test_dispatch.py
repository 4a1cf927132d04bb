"""Backend choice and the ValueErrors the dispatcher raises on bad input, before any kernel runs."""

import pytest
import torch

import kernels
from kernels import RopeSpec
from kernels.flash import reference


def _qkv(total_q=8, total_k=8, n_heads=4, n_kv_heads=2, head_dim=16, dtype=torch.float32):
    return (
        torch.randn(total_q, n_heads, head_dim, dtype=dtype),
        torch.randn(total_k, n_kv_heads, head_dim, dtype=dtype),
        torch.randn(total_k, n_kv_heads, head_dim, dtype=dtype),
    )


def test_backend_follows_device_and_environment(monkeypatch):
    monkeypatch.delenv("QUIRE_KERNELS", raising=False)
    assert kernels.backend(torch.zeros(1)) == "reference"
    monkeypatch.setenv("QUIRE_KERNELS", "triton")
    assert kernels.backend(torch.zeros(1)) == "triton"
    monkeypatch.setenv("QUIRE_KERNELS", "cuda")
    with pytest.raises(ValueError, match="QUIRE_KERNELS"):
        kernels.backend()


def test_triton_on_cpu_without_interpreter_is_refused(monkeypatch):
    monkeypatch.setenv("QUIRE_KERNELS", "triton")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="CUDA"):
        kernels.flash_attention(q, k, v)


def test_reference_backend_runs_float32(reference_backend):
    q, k, v = _qkv(total_q=5, total_k=9)
    out, lse = kernels.flash_attention(q, k, v, causal=True)
    expected, expected_lse = reference.flash_attention(q, k, v, causal=True)
    assert torch.equal(out, expected) and torch.equal(lse, expected_lse)


def _call_flash(**changes):
    q, k, v = _qkv()
    args = {"q": q, "k": k, "v": v}
    args.update(changes)
    return kernels.flash_attention(args.pop("q"), args.pop("k"), args.pop("v"), **args)


CU = torch.tensor([0, 3, 8], dtype=torch.int32)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"q": torch.randn(8, 4)}, "3 dimensions"),
        ({"q": torch.randint(0, 3, (8, 4, 16))}, "float16"),
        ({"k": torch.randn(8, 2, 16, dtype=torch.float16)}, "dtype mismatch"),
        ({"k": torch.randn(8, 2, 16, device="meta")}, "device mismatch"),
        ({"k": torch.randn(8, 3, 16), "v": torch.randn(8, 3, 16)}, "multiple of n_kv_heads"),
        ({"v": torch.randn(7, 2, 16)}, "same shape"),
        ({"k": torch.randn(8, 2, 8), "v": torch.randn(8, 2, 8)}, "head_dim mismatch"),
        ({"cu_seqlens_q": CU}, "both"),
        ({"cu_seqlens_q": CU.long(), "cu_seqlens_k": CU}, "int32"),
        ({"cu_seqlens_q": torch.tensor([0, 3, 7], dtype=torch.int32), "cu_seqlens_k": CU}, "end at"),
        (
            {"cu_seqlens_q": torch.tensor([0, 5, 3, 8], dtype=torch.int32), "cu_seqlens_k": CU},
            "non-decreasing",
        ),
        ({"cu_seqlens_q": torch.tensor([0, 8], dtype=torch.int32), "cu_seqlens_k": CU}, "batch"),
        ({"cu_seqlens_q": CU, "cu_seqlens_k": CU, "max_seqlen_q": 4}, "longest"),
        ({"softmax_scale": "0.1"}, "softmax_scale"),
    ],
)
def test_flash_bad_input_raises_value_error(reference_backend, changes, message):
    with pytest.raises(ValueError, match=message):
        _call_flash(**changes)


def test_triton_rejects_head_dim_past_its_widest_tile(triton_backend):
    q, k, v = (x.to(triton_backend) for x in _qkv(head_dim=320))
    with pytest.raises(ValueError, match="head_dim up to 256, got 320"):
        kernels.flash_attention(q, k, v)


@pytest.mark.parametrize("window", [0, -3, 2.5, True])
def test_sliding_window_needs_positive_int_window(reference_backend, window):
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="window"):
        kernels.sliding_window_attention(q, k, v, window=window)


def test_sliding_window_needs_self_attention(reference_backend):
    q, k, v = _qkv(total_k=9)
    with pytest.raises(ValueError, match="same tokens"):
        kernels.sliding_window_attention(q, k, v, window=4)


@pytest.mark.parametrize(("block_size", "top_k"), [(10, 2), (0, 2), (16, 0)])
def test_block_sparse_bad_block_arguments(reference_backend, block_size, top_k):
    q, k, v = _qkv()
    with pytest.raises(ValueError):
        kernels.block_sparse_attention(q, k, v, block_size=block_size, top_k=top_k)
    with pytest.raises(ValueError):
        kernels.block_gate(q, k, block_size=block_size, top_k=top_k)


def _paged(**changes):
    args = {
        "q": torch.randn(2, 4, 16),
        "k_cache": torch.randn(6, 16, 2, 16),
        "v_cache": torch.randn(6, 16, 2, 16),
        "block_tables": torch.zeros(2, 3, dtype=torch.int32),
        "context_lens": torch.tensor([5, 40], dtype=torch.int32),
    }
    args.update(changes)
    return kernels.paged_decode_attention(**args)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"block_tables": torch.zeros(2, 3, dtype=torch.int64)}, "int32"),
        ({"context_lens": torch.tensor([5, 49], dtype=torch.int32)}, "0..48"),
        ({"context_lens": torch.tensor([5], dtype=torch.int32)}, "batch"),
        ({"v_cache": torch.randn(6, 16, 2, 8)}, "shape"),
        ({"k_cache": torch.randn(6, 16, 2, 16, dtype=torch.float16)}, "dtype mismatch"),
        ({"q": torch.randn(2, 3, 16)}, "multiple of n_kv_heads"),
        ({"k_cache": torch.randn(6, 16, 2)}, "4 dimensions"),
    ],
)
def test_paged_decode_bad_input_raises_value_error(reference_backend, changes, message):
    with pytest.raises(ValueError, match=message):
        _paged(**changes)


def test_paged_decode_reference_backend_runs(reference_backend):
    assert _paged().shape == (2, 4, 16)


SPEC = RopeSpec.from_config({"head_dim": 16, "max_position_embeddings": 32})


@pytest.mark.parametrize(
    ("q", "positions", "spec", "message"),
    [
        (torch.randn(4, 2, 16), torch.arange(4.0), SPEC, "integers"),
        (torch.randn(4, 2, 16), torch.arange(3), SPEC, "token counts"),
        (torch.randn(4, 2, 8), torch.arange(4), SPEC, "spec.head_dim"),
        (torch.randn(4, 2, 16), torch.arange(4), {"head_dim": 16}, "RopeSpec"),
    ],
)
def test_rope_bad_input_raises_value_error(reference_backend, q, positions, spec, message):
    k = torch.randn(q.shape[0], 1, q.shape[2])
    with pytest.raises(ValueError, match=message):
        kernels.apply_rope_(q, k, positions, spec)


ZERO_HEAD_CALLS = {
    "flash": lambda: kernels.flash_attention(*_qkv(n_heads=0, n_kv_heads=1)),
    "sliding_window": lambda: kernels.sliding_window_attention(*_qkv(n_heads=0, n_kv_heads=1), window=4),
    "block_sparse": lambda: kernels.block_sparse_attention(
        *_qkv(n_heads=0, n_kv_heads=1), block_size=16, top_k=2
    ),
    "block_gate": lambda: kernels.block_gate(*_qkv(n_heads=0, n_kv_heads=1)[:2], block_size=16, top_k=2),
    "paged_decode": lambda: _paged(q=torch.randn(2, 0, 16)),
}


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("op", list(ZERO_HEAD_CALLS))
def test_zero_query_heads_are_refused(monkeypatch, backend, op):
    """Torch's CPU flash kernel, which the reference runs, dies of SIGFPE on zero heads."""
    monkeypatch.setenv("QUIRE_KERNELS", backend)
    with pytest.raises(ValueError, match=r"n_heads \(0\)"):
        ZERO_HEAD_CALLS[op]()


EMPTY_DIM_CALLS = {
    "paged_head_dim": (
        lambda: _paged(
            q=torch.randn(2, 4, 0), k_cache=torch.randn(6, 16, 2, 0), v_cache=torch.randn(6, 16, 2, 0)
        ),
        "head_dim",
    ),
    "paged_block_size": (
        lambda: _paged(
            k_cache=torch.randn(6, 0, 2, 16),
            v_cache=torch.randn(6, 0, 2, 16),
            context_lens=torch.zeros(2, dtype=torch.int32),
        ),
        "block_size",
    ),
    "block_gate_head_dim": (
        lambda: kernels.block_gate(torch.randn(8, 4, 0), torch.randn(8, 2, 0), block_size=16, top_k=2),
        "head_dim",
    ),
}


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("case", list(EMPTY_DIM_CALLS))
def test_empty_head_dim_or_page_is_refused(monkeypatch, backend, case):
    monkeypatch.setenv("QUIRE_KERNELS", backend)
    call, message = EMPTY_DIM_CALLS[case]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("max_seqlen", ["8", 8.0, 8.5, True, -1])
def test_max_seqlen_of_a_single_sequence_must_be_an_int(reference_backend, max_seqlen):
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="max_seqlen"):
        kernels.flash_attention(q, k, v, max_seqlen_q=max_seqlen)
    with pytest.raises(ValueError, match="max_seqlen"):
        kernels.sliding_window_attention(q, k, v, window=2, max_seqlen=max_seqlen)


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), -float("inf")])
def test_softmax_scale_must_be_finite(reference_backend, scale):
    with pytest.raises(ValueError, match="softmax_scale"):
        _call_flash(softmax_scale=scale)
    with pytest.raises(ValueError, match="softmax_scale"):
        kernels.paged_decode_attention(
            torch.randn(2, 4, 16),
            torch.randn(6, 16, 2, 16),
            torch.randn(6, 16, 2, 16),
            torch.zeros(2, 3, dtype=torch.int32),
            torch.tensor([5, 40], dtype=torch.int32),
            softmax_scale=scale,
        )


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_an_empty_batch_has_one_prefix_sum(monkeypatch, backend):
    """``cu_seqlens`` is (batch + 1,): a batch of no sequences is ``[0]``, as a batch of one empty sequence is
    ``[0, 0]``."""
    monkeypatch.setenv("QUIRE_KERNELS", backend)
    q, k, v = _qkv(total_q=0, total_k=0)
    empty = torch.zeros(1, dtype=torch.int32)
    out, lse = kernels.flash_attention(q, k, v, cu_seqlens_q=empty, cu_seqlens_k=empty)
    assert out.shape == q.shape and lse.shape == (4, 0)
    out, lse = kernels.sliding_window_attention(q, k, v, window=3, cu_seqlens=empty)
    assert out.shape == q.shape and lse.shape == (4, 0)
    out, lse = kernels.block_sparse_attention(q, k, v, block_size=16, top_k=2, cu_seqlens=empty)
    assert out.shape == q.shape and lse.shape == (4, 0)
    assert kernels.block_gate(q, k, block_size=16, top_k=2, cu_seqlens=empty).shape == (0, 4, 0, 2)


def test_cu_seqlens_needs_an_entry(reference_backend):
    q, k, v = _qkv(total_q=0, total_k=0)
    empty = torch.zeros(0, dtype=torch.int32)
    with pytest.raises(ValueError, match="cu_seqlens"):
        kernels.sliding_window_attention(q, k, v, window=3, cu_seqlens=empty)

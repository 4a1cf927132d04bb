"""RoPE against transformers' own Llama rotary embedding, reference and Triton kernel."""

import pytest
import torch
import transformers.models.llama.modeling_llama as transformers_llama

import kernels
from kernels import RopeSpec
from kernels.rope import reference
from tests.kernels._inputs import assert_close, strided

HEAD_DIM = 64
BASE_CONFIG = {
    "hidden_size": 256,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": HEAD_DIM,
    "max_position_embeddings": 64,
    "rope_theta": 10000.0,
}
SCALINGS = {
    "default": None,
    "linear": {"rope_type": "linear", "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "factor": 2.0},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32},
    "yarn_mscale": {
        "rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 16, "mscale": 0.707,
        "mscale_all_dim": 1.0, "beta_fast": 16, "beta_slow": 2,
    },
    "llama3": {
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16,
    },
    "longrope": {
        "rope_type": "longrope", "original_max_position_embeddings": 32,
        "long_factor": [1.0 + 0.1 * i for i in range(HEAD_DIM // 2)],
        "short_factor": [1.0 + 0.01 * i for i in range(HEAD_DIM // 2)],
    },
}  # fmt: skip


def _config_dict(name: str, key: str = "rope_scaling") -> dict:
    config = dict(BASE_CONFIG)
    if SCALINGS[name] is not None:
        config[key] = dict(SCALINGS[name])
    return config


def _transformers_rope(config: dict, q, k, positions):
    hf_config = transformers_llama.LlamaConfig(**{key: value for key, value in config.items()})
    rotary = transformers_llama.LlamaRotaryEmbedding(hf_config)
    cos, sin = rotary(q, positions[None].long())
    q_out, k_out = transformers_llama.apply_rotary_pos_emb(
        q.transpose(0, 1)[None], k.transpose(0, 1)[None], cos, sin
    )
    return q_out[0].transpose(0, 1), k_out[0].transpose(0, 1)


def _inputs(dtype, tokens: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(tokens, 4, HEAD_DIM, generator=gen).to(dtype)
    k = torch.randn(tokens, 2, HEAD_DIM, generator=gen).to(dtype)
    return q, k


# Decode-like positions past max_position_embeddings exercise dynamic NTK and longrope's long factors.
POSITION_SETS = {"prefill": torch.arange(40), "long": torch.arange(150, 190), "decode": torch.tensor([200])}


@pytest.mark.parametrize("name", list(SCALINGS))
@pytest.mark.parametrize("positions_name", list(POSITION_SETS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_reference_equals_transformers(name, positions_name, dtype):
    positions = POSITION_SETS[positions_name]
    q, k = _inputs(dtype, len(positions), seed=len(name))
    config = _config_dict(name)
    expected_q, expected_k = _transformers_rope(config, q, k, positions)
    reference.apply_rope_(q, k, positions, RopeSpec.from_config(config))
    torch.testing.assert_close(q, expected_q, atol=0, rtol=0)
    torch.testing.assert_close(k, expected_k, atol=0, rtol=0)


@pytest.mark.parametrize("factor", [2.0, 3.0, 4.0, 8.0])
@pytest.mark.parametrize("seq_len", [65, 100, 301, 1000, 4097])
def test_dynamic_frequencies_past_the_context_equal_transformers(factor, seq_len):
    """transformers grows a dynamic NTK base from the length as a float32 tensor; the spec must round alike."""
    config = dict(BASE_CONFIG, rope_scaling={"rope_type": "dynamic", "factor": factor})
    rotary = transformers_llama.LlamaRotaryEmbedding(transformers_llama.LlamaConfig(**config))
    rotary(torch.zeros(1), torch.tensor([[seq_len - 1]]))
    inv_freq, scaling = RopeSpec.from_config(config).inv_freq(seq_len)
    assert torch.equal(inv_freq, rotary.inv_freq)
    assert scaling == rotary.attention_scaling


@pytest.mark.parametrize("name", ["linear", "yarn", "llama3"])
def test_rope_parameters_layout_reads_like_rope_scaling(name):
    old_style = _config_dict(name, "rope_scaling")
    new_style = _config_dict(name, "rope_parameters")
    new_style["rope_parameters"]["rope_theta"] = new_style.pop("rope_theta")
    assert RopeSpec.from_config(old_style) == RopeSpec.from_config(new_style)


@pytest.mark.parametrize(
    ("name", "context"),
    [("default", 64), ("linear", 256), ("dynamic", 128), ("yarn", 128), ("yarn_mscale", 128), ("llama3", 64),
     ("longrope", 64)],
)  # fmt: skip
def test_context_length_is_the_window_the_scaling_states(name, context):
    assert RopeSpec.from_config(_config_dict(name)).context_length == context


def test_yarn_stretches_its_original_window_past_max_position_embeddings():
    """As Qwen's long-context configs state it: the window 32768 unchanged, yarn's factor 4 over it."""
    config = dict(
        BASE_CONFIG,
        max_position_embeddings=32768,
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
    )
    assert RopeSpec.from_config(config).context_length == 131072


def test_legacy_type_key_and_derived_head_dim():
    config = {"hidden_size": 512, "num_attention_heads": 8, "max_position_embeddings": 128,
              "rope_scaling": {"type": "linear", "factor": 2.0}}  # fmt: skip
    spec = RopeSpec.from_config(config)
    assert (spec.head_dim, spec.rotary_dim, spec.rope_type, spec.factor) == (64, 64, "linear", 2.0)
    assert spec.rope_theta == 10000.0


def test_partial_rotary_factor_leaves_the_tail_untouched():
    config = dict(BASE_CONFIG, partial_rotary_factor=0.5)
    spec = RopeSpec.from_config(config)
    assert spec.rotary_dim == HEAD_DIM // 2
    q, k = _inputs(torch.float32, 8, seed=0)
    q_before = q.clone()
    reference.apply_rope_(q, k, torch.arange(8), spec)
    assert torch.equal(q[..., HEAD_DIM // 2 :], q_before[..., HEAD_DIM // 2 :])
    assert not torch.equal(q[1:, :, : HEAD_DIM // 2], q_before[1:, :, : HEAD_DIM // 2])


def test_rope_parameters_per_layer_type_are_refused_not_read_as_default():
    config = dict(
        BASE_CONFIG,
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
            "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
        },
    )
    with pytest.raises(ValueError, match="per layer type"):
        RopeSpec.from_config(config)


@pytest.mark.parametrize(
    "config",
    [
        {"max_position_embeddings": 8},
        {"head_dim": 64},
        {"head_dim": 64, "max_position_embeddings": 8, "rope_scaling": {"rope_type": "su"}},
        {"head_dim": 64, "max_position_embeddings": 8, "rope_scaling": {"rope_type": "linear"}},
        {
            "head_dim": 64,
            "max_position_embeddings": 8,
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0},
        },
    ],
)
def test_bad_config_raises_value_error(config):
    with pytest.raises(ValueError):
        RopeSpec.from_config(config)


@pytest.mark.parametrize("name", list(SCALINGS))
@pytest.mark.parametrize("positions_name", ["long", "decode"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_triton_matches_transformers(triton_backend, name, positions_name, dtype):
    positions = POSITION_SETS[positions_name]
    q, k = _inputs(dtype, len(positions), seed=len(name) + 1)
    config = _config_dict(name)
    expected_q, expected_k = _transformers_rope(config, q.float(), k.float(), positions)
    q, k, device_positions = q.to(triton_backend), k.to(triton_backend), positions.to(triton_backend)
    kernels.apply_rope_(q, k, device_positions, RopeSpec.from_config(config))
    assert_close(q.cpu(), expected_q, dtype)
    assert_close(k.cpu(), expected_k, dtype)


def test_triton_partial_rotary_matches_reference(triton_backend):
    spec = RopeSpec.from_config(dict(BASE_CONFIG, partial_rotary_factor=0.25))
    q, k = _inputs(torch.float16, 9, seed=3)
    expected_q, expected_k = q.clone(), k.clone()
    reference.apply_rope_(expected_q, expected_k, torch.arange(9), spec)
    q, k = q.to(triton_backend), k.to(triton_backend)
    kernels.apply_rope_(q, k, torch.arange(9, device=triton_backend), spec)
    assert_close(q.cpu(), expected_q, torch.float16)
    assert_close(k.cpu(), expected_k, torch.float16)


@pytest.mark.parametrize("name", ["dynamic", "longrope"])
@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_chunk_rotates_with_the_length_of_its_whole_sequence(monkeypatch, name, backend):
    """The first 20 tokens of a 90-token sequence, rotated alone with ``seq_len=90``, equal the same rows of
    transformers' rotation of all 90; without it they would take the frequencies of a 20-token sequence."""
    monkeypatch.setenv("QUIRE_KERNELS", backend)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = _config_dict(name)
    spec = RopeSpec.from_config(config)
    q, k = _inputs(torch.float32, 90, seed=5)
    expected_q, expected_k = _transformers_rope(config, q, k, torch.arange(90))
    chunk_q, chunk_k = q[:20].to(device), k[:20].to(device)
    kernels.apply_rope_(chunk_q, chunk_k, torch.arange(20, device=device), spec, seq_len=90)
    assert_close(chunk_q.cpu(), expected_q[:20], torch.float32)
    assert_close(chunk_k.cpu(), expected_k[:20], torch.float32)
    alone_q, alone_k = q[:20].clone(), k[:20].clone()
    reference.apply_rope_(alone_q, alone_k, torch.arange(20), spec)
    assert not torch.allclose(alone_q, expected_q[:20])


def test_frequency_length_stands_for_every_length_that_rotates_alike():
    for name in SCALINGS:
        spec = RopeSpec.from_config(_config_dict(name))
        for seq_len in (1, 16, 32, 33, 64, 65, 200):
            standin = spec.frequency_length(seq_len)
            assert torch.equal(spec.inv_freq(standin)[0], spec.inv_freq(seq_len)[0])
    longrope = RopeSpec.from_config(_config_dict("longrope"))
    assert longrope.frequency_length(33) == longrope.frequency_length(500) != longrope.frequency_length(32)


@pytest.mark.parametrize(("seq_len", "message"), [(0, "positive int"), (8, "exceed every position")])
def test_seq_len_must_cover_the_positions(reference_backend, seq_len, message):
    q, k = _inputs(torch.float32, 10, seed=0)
    with pytest.raises(ValueError, match=message):
        kernels.apply_rope_(
            q, k, torch.arange(10), RopeSpec.from_config(_config_dict("longrope")), seq_len=seq_len
        )


@pytest.mark.parametrize("name", ["default", "longrope"])
def test_triton_reads_strided_positions_by_value(triton_backend, name):
    spec = RopeSpec.from_config(_config_dict(name))
    positions = torch.arange(10, 50)
    q, k = _inputs(torch.float32, len(positions), seed=4)
    expected_q, expected_k = q.clone(), k.clone()
    reference.apply_rope_(expected_q, expected_k, positions, spec)
    q, k = q.to(triton_backend), k.to(triton_backend)
    kernels.apply_rope_(q, k, strided(positions.to(triton_backend)), spec)
    assert_close(q.cpu(), expected_q, torch.float32)
    assert_close(k.cpu(), expected_k, torch.float32)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_q_and_k_whose_head_dim_is_not_innermost_rotate_in_place(monkeypatch, backend):
    monkeypatch.setenv("QUIRE_KERNELS", backend)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    spec = RopeSpec.from_config(_config_dict("default"))
    gen = torch.Generator().manual_seed(6)
    q_storage = torch.randn(8, HEAD_DIM, 4, generator=gen)
    k_storage = torch.randn(8, HEAD_DIM, 2, generator=gen)
    expected_q, expected_k = q_storage.transpose(1, 2).contiguous(), k_storage.transpose(1, 2).contiguous()
    reference.apply_rope_(expected_q, expected_k, torch.arange(8), spec)
    q_storage, k_storage = q_storage.to(device), k_storage.to(device)
    q, k = q_storage.transpose(1, 2), k_storage.transpose(1, 2)
    assert q.stride(-1) != 1
    kernels.apply_rope_(q, k, torch.arange(8, device=device), spec)
    assert_close(q_storage.transpose(1, 2).cpu(), expected_q, torch.float32)
    assert_close(k_storage.transpose(1, 2).cpu(), expected_k, torch.float32)


@pytest.mark.parametrize(
    "fields",
    [
        {"rope_type": "yarn", "factor": 4.0},
        {"rope_type": "yarn", "original_max_position_embeddings": 32},
        {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0},
        {"rope_type": "longrope", "long_factor": (1.0,) * 32, "short_factor": (1.0,) * 32},
        {"rope_type": "dynamic", "factor": 2.0, "rotary_dim": 2},
    ],
)
def test_a_spec_that_cannot_rotate_is_refused_when_made(fields):
    """Made directly, a spec missing what its type computes with failed only at the first apply_rope_, with a
    TypeError or ZeroDivisionError."""
    base = {
        "head_dim": HEAD_DIM,
        "rotary_dim": HEAD_DIM,
        "rope_theta": 10000.0,
        "max_position_embeddings": 64,
    }
    with pytest.raises(ValueError, match="rope_type"):
        RopeSpec(**{**base, **fields})

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

from inference.config import CheckpointError, ModelConfig
from inference.engine import Engine, EngineConfig, SamplingParams
from inference.model import load_model
from inference.tokenizer import ChatTokenizer

PROMPTS = [
    "The quick brown fox",
    "Quarterly revenue rose twelve percent",
    "hello world, hello tokens, hello",
    "This Agreement shall be governed by the laws of the State of",
]


def _hf_greedy(model_dir: Path, prompts: list[list[int]], new_tokens: int) -> list[list[int]]:
    reference = LlamaForCausalLM.from_pretrained(model_dir).eval()
    outputs = []
    with torch.no_grad():
        for prompt in prompts:
            generated = reference.generate(
                torch.tensor([prompt]), max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
            )
            outputs.append(generated[0, len(prompt) :].tolist())
    return outputs


@pytest.mark.parametrize("rope", ["default", "linear", "dynamic", "yarn", "llama3", "longrope"])
def test_logits_and_greedy_tokens_match_transformers(checkpoint_factory, rope):
    model_dir = checkpoint_factory(rope=rope)
    model = load_model(model_dir, device="cpu")
    tokenizer = ChatTokenizer.from_dir(model_dir)
    prompt = tokenizer.encode(" ".join(PROMPTS))
    reference = LlamaForCausalLM.from_pretrained(model_dir).eval()
    with torch.no_grad():
        expected = reference(torch.tensor([prompt])).logits[0]
    ours = model.prompt_logits(prompt)
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)

    prompts = [tokenizer.encode(text) for text in PROMPTS]
    engine = Engine(model, tokenizer, EngineConfig(num_blocks=64, block_size=8))
    results = engine.generate(prompts, SamplingParams(max_tokens=12, ignore_eos=True))
    assert [result.output_ids for result in results] == _hf_greedy(model_dir, prompts, 12)


def test_sharded_checkpoint_loads_and_matches(checkpoint_factory):
    model_dir = checkpoint_factory(max_shard_size="40KB")
    assert (model_dir / "model.safetensors.index.json").is_file()
    assert len(list(model_dir.glob("*.safetensors"))) > 2
    model = load_model(model_dir, device="cpu")
    prompt = ChatTokenizer.from_dir(model_dir).encode(PROMPTS[1])
    reference = LlamaForCausalLM.from_pretrained(model_dir).eval()
    with torch.no_grad():
        expected = reference(torch.tensor([prompt])).logits[0]
    torch.testing.assert_close(model.prompt_logits(prompt), expected, atol=1e-4, rtol=1e-4)


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


def test_missing_config_is_a_clear_error(tiny_checkpoint, tmp_path):
    model_dir = _copy(tiny_checkpoint, tmp_path)
    (model_dir / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_model(model_dir, device="cpu")


def test_missing_weights_and_tokenizer_are_clear_errors(tiny_checkpoint, tmp_path):
    model_dir = _copy(tiny_checkpoint, tmp_path)
    (model_dir / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match=r"tokenizer\.json"):
        ChatTokenizer.from_dir(model_dir)
    for weights in model_dir.glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(CheckpointError, match="safetensors"):
        load_model(model_dir, device="cpu")


def test_missing_shard_is_named(checkpoint_factory, tmp_path):
    model_dir = _copy(checkpoint_factory(max_shard_size="40KB"), tmp_path)
    shard = sorted(model_dir.glob("model-*.safetensors"))[0]
    shard.unlink()
    with pytest.raises(CheckpointError, match=shard.name):
        load_model(model_dir, device="cpu")


def test_unsupported_architecture_is_refused(tiny_checkpoint, tmp_path):
    model_dir = _copy(tiny_checkpoint, tmp_path)
    config = json.loads((model_dir / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    config["model_type"] = "gpt2"
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="unsupported architecture"):
        load_model(model_dir, device="cpu")


def test_shape_mismatch_names_the_tensor(tiny_checkpoint, tmp_path):
    model_dir = _copy(tiny_checkpoint, tmp_path)
    config = json.loads((model_dir / "config.json").read_text())
    config["intermediate_size"] = 96
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"mlp\.gate_proj\.weight has shape \(128, 64\)"):
        load_model(model_dir, device="cpu")


def test_config_rejects_bad_head_counts():
    with pytest.raises(CheckpointError, match="multiple"):
        ModelConfig.from_dict(
            {
                "architectures": ["LlamaForCausalLM"],
                "vocab_size": 10,
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_hidden_layers": 1,
                "num_attention_heads": 4,
                "num_key_value_heads": 3,
            }
        )


def test_chat_template_renders_and_encodes(tiny_checkpoint):
    tokenizer = ChatTokenizer.from_dir(tiny_checkpoint)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello world"}]
    text = tokenizer.apply_chat_template(messages)
    assert text == "<s><|system|>Be brief.\n<|user|>hello world\n<|assistant|>"
    ids = tokenizer.encode_chat(messages)
    assert ids[0] == tokenizer.bos_token_id
    assert ids.count(tokenizer.bos_token_id) == 1
    assert tokenizer.tokenizer.token_to_id("<|assistant|>") == ids[-1]
    assert tokenizer.decode(tokenizer.encode("hello world")) == "hello world"


@pytest.mark.parametrize(("rope", "max_positions"), [("dynamic", 64), ("longrope", 256)])
def test_length_dependent_rope_past_the_original_window_matches_per_request(
    checkpoint_factory, rope, max_positions
):
    model_dir = checkpoint_factory(rope=rope, max_positions=max_positions)
    model = load_model(model_dir, device="cpu")
    tokenizer = ChatTokenizer.from_dir(model_dir)
    long_prompt = tokenizer.encode(" ".join(PROMPTS * 2))
    assert len(long_prompt) > 64
    prompts = [long_prompt, tokenizer.encode(PROMPTS[0])]
    engine = Engine(model, tokenizer, EngineConfig(num_blocks=64, block_size=8))
    results = engine.generate(prompts, SamplingParams(max_tokens=6, ignore_eos=True))
    assert [result.output_ids for result in results] == _hf_greedy(model_dir, prompts, 6)


def _last_prompt_logits(model, prompts: list[list[int]], token_budget: int, monkeypatch) -> torch.Tensor:
    """The next-token logits at the end of the last of `prompts`, served together under `token_budget`."""
    forward = model.forward
    steps: list[torch.Tensor] = []

    def recorded(*args, **kwargs):
        steps.append(forward(*args, **kwargs))
        return steps[-1]

    monkeypatch.setattr(model, "forward", recorded)
    config = EngineConfig(num_blocks=64, block_size=16, max_num_batched_tokens=token_budget)
    engine = Engine(model, None, config)
    for prompt in prompts:
        engine.add_request(prompt, SamplingParams(max_tokens=1))
    while engine.has_work():
        engine.step()
    monkeypatch.setattr(model, "forward", forward)
    return steps[-1][-1]


@pytest.mark.parametrize(("rope", "max_positions"), [("dynamic", 64), ("longrope", 256)])
def test_length_dependent_rope_rotates_each_chunk_for_the_whole_prompt(
    checkpoint_factory, rope, max_positions, monkeypatch
):
    """A 100-token prompt past the original window (64 for both), prefilled whole, in
    chunks of 32, and behind an 80-token request that leaves its first chunk 48 tokens long: every chunk is
    rotated with the frequencies of the whole prompt, as transformers rotates the prompt served alone."""
    model_dir = checkpoint_factory(rope=rope, max_positions=max_positions)
    model = load_model(model_dir, device="cpu")
    generator = torch.Generator().manual_seed(1)
    prompt = torch.randint(5, 300, (100,), generator=generator).tolist()
    other = torch.randint(5, 300, (80,), generator=generator).tolist()
    reference = LlamaForCausalLM.from_pretrained(model_dir).eval()
    with torch.no_grad():
        expected = reference(torch.tensor([prompt])).logits[0, -1]
    whole = _last_prompt_logits(model, [prompt], 128, monkeypatch)
    chunked = _last_prompt_logits(model, [prompt], 32, monkeypatch)
    behind = _last_prompt_logits(model, [other, prompt], 128, monkeypatch)
    torch.testing.assert_close(whole, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(chunked, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(behind, expected, atol=1e-4, rtol=1e-4)


def test_bos_follows_the_post_processor_when_tokenizer_config_is_silent(tiny_checkpoint):
    from tokenizers import Tokenizer, processors

    tokenizer = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    silent = ChatTokenizer(tokenizer, {"bos_token": "<s>", "eos_token": "</s>"})
    assert silent.encode("hello")[0] == 0
    assert silent.encode("hello", add_bos=False)[0] != 0
    explicit = ChatTokenizer(tokenizer, {"bos_token": "<s>", "add_bos_token": False})
    assert explicit.encode("hello")[0] != 0


def test_a_tokens_bytes_join_into_the_text_a_character_split_over_tokens_makes(tiny_checkpoint):
    """A byte-level BPE token of one byte of "é" stands for that byte, not for the replacement character its
    own decode shows; so does a SentencePiece byte-fallback piece; a SentencePiece word's mark is a space."""
    from tokenizers import Tokenizer, decoders, models

    byte_level = ChatTokenizer(Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json")), {})
    first, second = (byte_level.tokenizer.token_to_id(char) for char in "\u00c3\u00a9")
    assert byte_level.decode([first]) == "\ufffd"
    assert byte_level.token_bytes(first) + byte_level.token_bytes(second) == "\u00e9".encode()
    hello = byte_level.encode("hello there", add_bos=False)
    assert b"".join(byte_level.token_bytes(i) for i in hello) == b"hello there"

    vocab = {"<unk>": 0, "<0xC3>": 1, "<0xA9>": 2, "\u2581Paris": 3, "caf": 4}
    pieces = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    pieces.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    sentencepiece = ChatTokenizer(pieces, {})
    assert b"".join(sentencepiece.token_bytes(i) for i in (3, 4, 1, 2)) == " Pariscaf\u00e9".encode()


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="the Triton kernels' engine path needs a CUDA device"
)
@pytest.mark.parametrize(
    "options",
    [{"rope": "default"}, {"rope": "llama3"}, {"rope": "longrope"}, {"rope": "default", "hidden": 320}],
    ids=["default", "llama3", "longrope", "head_dim_80"],
)
def test_on_cuda_the_triton_path_matches_transformers(checkpoint_factory, options):
    """Prefill through the Triton flash and rope kernels against `LlamaForCausalLM` on the CPU (float32; the
    kernels' dots may run in tf32, hence the tolerance); then the engine's batched generation on the GPU, paged
    decode included: each token it picks is the reference's best next token (within that tolerance) given
    the same history, so near-ties of the random weights cannot fail the test. Hidden 320 over 4 heads makes
    head dim 80, which the kernels run in 128-wide tiles."""
    model_dir = checkpoint_factory(**options)
    model = load_model(model_dir, device="cuda", dtype=torch.float32)
    tokenizer = ChatTokenizer.from_dir(model_dir)
    prompt = tokenizer.encode(" ".join(PROMPTS))
    reference = LlamaForCausalLM.from_pretrained(model_dir).eval()
    with torch.no_grad():
        expected = reference(torch.tensor([prompt])).logits[0]
    torch.testing.assert_close(model.prompt_logits(prompt).cpu(), expected, atol=1e-2, rtol=1e-2)

    prompts = [tokenizer.encode(text) for text in PROMPTS]
    engine = Engine(model, tokenizer, EngineConfig(num_blocks=64, block_size=8))
    assert engine.warm_up()
    results = engine.generate(prompts, SamplingParams(max_tokens=12, ignore_eos=True))
    for prompt_ids, result in zip(prompts, results, strict=True):
        assert len(result.output_ids) == 12
        with torch.no_grad():
            logits = reference(torch.tensor([prompt_ids + result.output_ids])).logits[
                0, len(prompt_ids) - 1 : -1
            ]
        chosen = logits.gather(1, torch.tensor(result.output_ids)[:, None])[:, 0]
        assert torch.all(chosen >= logits.max(dim=1).values - 1e-2), (chosen, logits.max(dim=1))
    assert engine.num_free_blocks == 64


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA the test above runs the compiled kernels")
def test_a_head_dim_between_the_tile_widths_serves_through_the_triton_kernels(
    checkpoint_factory, monkeypatch
):
    """Head dim 80 (hidden 320 over 4 heads), run through the Triton kernels' interpreter: prefill matches
    transformers and the engine, paged decode included, picks the reference backend's tokens."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("QUIRE_KERNELS", "triton")
    model_dir = checkpoint_factory(hidden=320)
    model = load_model(model_dir, device="cpu")
    assert model.config.head_dim == 80
    prompt = list(range(5, 45))
    with torch.no_grad():
        expected = LlamaForCausalLM.from_pretrained(model_dir).eval()(torch.tensor([prompt])).logits[0]
    torch.testing.assert_close(model.prompt_logits(prompt), expected, atol=1e-4, rtol=1e-4)

    params = SamplingParams(max_tokens=4, ignore_eos=True)
    results = Engine(model, None, EngineConfig(num_blocks=16, block_size=8)).generate(
        [prompt, prompt[:9]], params
    )
    monkeypatch.setenv("QUIRE_KERNELS", "reference")
    on_reference = Engine(model, None, EngineConfig(num_blocks=16, block_size=8)).generate(
        [prompt, prompt[:9]], params
    )
    assert [r.output_ids for r in results] == [r.output_ids for r in on_reference]


def test_a_head_dim_wider_than_the_triton_tiles_is_refused_at_load_where_the_kernels_would_serve_it(
    checkpoint_factory, monkeypatch
):
    model_dir = checkpoint_factory(hidden=640, heads=2, kv_heads=2, layers=1, intermediate=64)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("QUIRE_KERNELS", "triton")
    with pytest.raises(
        CheckpointError, match=r"head_dim 320 is wider than the 256 .* QUIRE_KERNELS=reference"
    ):
        load_model(model_dir, device="cpu")
    monkeypatch.setenv("QUIRE_KERNELS", "reference")
    assert load_model(model_dir, device="cpu").config.head_dim == 320

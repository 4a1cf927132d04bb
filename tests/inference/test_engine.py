import pytest
import torch

from inference.engine import Engine, EngineConfig, GenerationResult, SamplingParams
from inference.kv_cache import BlockAllocator, block_hashes
from inference.model import load_model
from inference.tokenizer import ChatTokenizer

TEXTS = [
    "The quick brown fox jumps",
    "Quarterly revenue rose",
    "hello world, hello tokens, hello engine and hello server and hello",
    "This Agreement shall be governed",
    "Either party may terminate this agreement with ninety",
    "The study found no significant effect",
]


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_model(tiny_checkpoint, device="cpu"), ChatTokenizer.from_dir(tiny_checkpoint)


@pytest.fixture(scope="module")
def prompts(loaded) -> list[list[int]]:
    return [loaded[1].encode(text) for text in TEXTS]


def _engine(loaded, **config) -> Engine:
    model, tokenizer = loaded
    return Engine(model, tokenizer, EngineConfig(**config))


def _alone(loaded, prompt: list[int], params: SamplingParams) -> list[int]:
    return _engine(loaded, num_blocks=64, block_size=8).generate([prompt], params)[0].output_ids


def _generate_as_alone(
    loaded, prompts: list[list[int]], params: SamplingParams, **config
) -> tuple[Engine, list[GenerationResult]]:
    """Generate `prompts` together on an engine with `config`; each gets the tokens it gets alone."""
    engine = _engine(loaded, **config)
    results = engine.generate(prompts, params)
    assert [r.output_ids for r in results] == [_alone(loaded, p, params) for p in prompts]
    return engine, results


def test_batched_tokens_equal_tokens_of_each_request_alone(loaded, prompts):
    params = SamplingParams(max_tokens=10, ignore_eos=True)
    engine, _ = _generate_as_alone(loaded, prompts, params, num_blocks=128, block_size=8)
    assert engine.num_free_blocks == 128
    assert not engine.requests


def test_requests_join_between_steps_and_prefill_mixes_with_decode(loaded):
    tokenizer = loaded[1]
    prompts = [tokenizer.encode(text) for text in TEXTS[:4]]
    params = SamplingParams(max_tokens=8, ignore_eos=True)
    engine = _engine(loaded, num_blocks=64, block_size=4)
    ids = [engine.add_request(prompts[0], params)]
    outputs: dict[str, list[int]] = {}
    step = 0
    while engine.has_work() or len(ids) < len(prompts):
        if step in (1, 3, 4) and len(ids) < len(prompts):
            ids.append(engine.add_request(prompts[len(ids)], params))
        for output in engine.step():
            outputs.setdefault(output.request_id, []).extend(output.new_token_ids)
        step += 1
    assert engine.stats["steps"] < 8 * len(prompts)
    assert [outputs[i] for i in ids] == [_alone(loaded, p, params) for p in prompts]
    assert engine.num_free_blocks == 64


def test_tiny_cache_preempts_and_still_matches(loaded, prompts):
    params = SamplingParams(max_tokens=16, ignore_eos=True)
    engine, results = _generate_as_alone(loaded, prompts, params, num_blocks=14, block_size=4)
    assert engine.stats["preemptions"] > 0
    assert all(r.finish_reason == "length" for r in results)
    assert engine.num_free_blocks == 14


def test_the_context_defaults_to_the_window_the_rope_scaling_states_and_caps_max_model_len(
    checkpoint_factory,
):
    """yarn's factor 4 over an original window of 64 gives 256 tokens, though max_position_embeddings says 64;
    a max_model_len past that is refused when the engine is made, not answered with untrained positions."""
    model = load_model(checkpoint_factory(rope="yarn", max_positions=64), device="cpu")
    assert Engine(model, None, EngineConfig(num_blocks=8)).max_model_len == 256
    assert Engine(model, None, EngineConfig(num_blocks=8, max_model_len=256)).max_model_len == 256
    with pytest.raises(ValueError, match="max_model_len 257 is past this model's context of 256 tokens"):
        Engine(model, None, EngineConfig(num_blocks=8, max_model_len=257))


def test_sequence_outgrowing_the_whole_cache_ends_with_length(loaded):
    prompt = loaded[1].encode(TEXTS[2])
    engine = _engine(loaded, num_blocks=-(-len(prompt) // 4) + 1, block_size=4)
    result = engine.generate([prompt], SamplingParams(max_tokens=50, ignore_eos=True))[0]
    assert result.finish_reason == "length"
    assert len(prompt) + len(result.output_ids) <= engine.cache.num_blocks * 4 + 1
    assert engine.num_free_blocks == engine.cache.num_blocks


def test_prompt_larger_than_cache_or_context_is_refused(loaded):
    prompt = loaded[1].encode(TEXTS[2])
    with pytest.raises(ValueError, match="KV cache holds"):
        _engine(loaded, num_blocks=2, block_size=4).add_request(prompt, SamplingParams())
    with pytest.raises(ValueError, match="context"):
        _engine(loaded, num_blocks=64, max_model_len=8).add_request(prompt, SamplingParams())
    with pytest.raises(ValueError, match="empty"):
        _engine(loaded, num_blocks=8).add_request([], SamplingParams())


def test_stop_string_truncates_text_and_streams_nothing_past_it(loaded):
    tokenizer = loaded[1]
    prompt = tokenizer.encode(TEXTS[0])
    full = _engine(loaded, num_blocks=32).generate([prompt], SamplingParams(max_tokens=12, ignore_eos=True))[
        0
    ]
    stop = full.text[4:7]
    assert stop and stop in full.text
    engine = _engine(loaded, num_blocks=32)
    request_id = engine.add_request(prompt, SamplingParams(max_tokens=12, ignore_eos=True, stop=(stop,)))
    streamed = []
    reason = None
    while engine.has_work():
        for output in engine.step():
            assert output.request_id == request_id
            streamed.append(output.text_delta)
            reason = output.finish_reason or reason
    expected = full.text[: full.text.find(stop)]
    assert "".join(streamed) == expected
    assert reason == "stop"
    assert engine.num_free_blocks == 32


def test_eos_ends_a_request_with_stop(loaded):
    model, tokenizer = loaded
    prompt = tokenizer.encode(TEXTS[1])
    first = _alone(loaded, prompt, SamplingParams(max_tokens=1))[0]
    engine = Engine(model, tokenizer, EngineConfig(num_blocks=16))
    result = engine.generate([prompt], SamplingParams(max_tokens=5, stop_token_ids=(first,)))[0]
    assert result.output_ids == [first]
    assert result.finish_reason == "stop"


def test_an_end_token_named_only_in_generation_config_ends_a_request(loaded, tiny_checkpoint, tmp_path):
    """Chat checkpoints often name their end-of-turn token in generation_config.json alone (as transformers'
    `generate` reads it); without it an answer ran on past the end of its turn to max_tokens."""
    import json
    import shutil

    prompt = loaded[1].encode(TEXTS[1])
    first = _alone(loaded, prompt, SamplingParams(max_tokens=1))[0]
    model_dir = shutil.copytree(tiny_checkpoint, tmp_path / "model")
    generation = json.loads((model_dir / "generation_config.json").read_text())
    (model_dir / "generation_config.json").write_text(json.dumps({**generation, "eos_token_id": [1, first]}))
    engine = Engine(load_model(model_dir, device="cpu"), loaded[1], EngineConfig(num_blocks=16))
    result = engine.generate([prompt], SamplingParams(max_tokens=5))[0]
    assert result.output_ids == [first]
    assert result.finish_reason == "stop"


def test_cancel_frees_blocks_and_reports_cancelled(loaded):
    tokenizer = loaded[1]
    engine = _engine(loaded, num_blocks=32)
    keep = engine.add_request(tokenizer.encode(TEXTS[0]), SamplingParams(max_tokens=6, ignore_eos=True))
    drop = engine.add_request(tokenizer.encode(TEXTS[1]), SamplingParams(max_tokens=50, ignore_eos=True))
    engine.step()
    assert engine.cancel(drop)
    assert not engine.cancel(drop)
    finished = {}
    while engine.has_work():
        for output in engine.step():
            if output.finished:
                finished[output.request_id] = output.finish_reason
    assert finished == {drop: "cancelled", keep: "length"}
    assert engine.num_free_blocks == 32


def test_seeded_sampling_is_reproducible_and_top_p_tiny_is_greedy(loaded):
    prompt = loaded[1].encode(TEXTS[3])
    sampled = SamplingParams(max_tokens=10, temperature=1.5, seed=7, ignore_eos=True)
    first = _alone(loaded, prompt, sampled)
    assert first == _alone(loaded, prompt, sampled)
    nucleus = SamplingParams(max_tokens=10, temperature=1.0, top_p=1e-6, seed=3, ignore_eos=True)
    assert _alone(loaded, prompt, nucleus) == _alone(
        loaded, prompt, SamplingParams(max_tokens=10, ignore_eos=True)
    )


def test_long_prompts_take_the_block_sparse_path(loaded, monkeypatch):
    import inference.model as model_module

    calls = []
    real = model_module.block_sparse_attention

    def spy(*args, **kwargs):
        calls.append(kwargs["block_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(model_module, "block_sparse_attention", spy)
    tokenizer = loaded[1]
    prompts = [tokenizer.encode(TEXTS[2] * 2), tokenizer.encode(TEXTS[1])]
    engine = _engine(loaded, num_blocks=64, sparse_from=32, sparse_block_size=16, sparse_top_k=2)
    results = engine.generate(prompts, SamplingParams(max_tokens=3, ignore_eos=True))
    assert len(calls) == loaded[0].config.num_hidden_layers
    assert calls == [16] * len(calls)
    assert all(len(r.output_ids) == 3 for r in results)


def test_sampling_params_and_engine_config_validate():
    with pytest.raises(ValueError, match="max_tokens"):
        SamplingParams(max_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=-0.1)
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(temperature=-1)
    with pytest.raises(ValueError, match="block_size"):
        EngineConfig(block_size=0)
    with pytest.raises(ValueError, match="multiple of 16"):
        EngineConfig(sparse_block_size=24)
    with pytest.raises(ValueError, match="max_model_len"):
        EngineConfig(max_model_len=1)


def test_sparse_threshold_comes_from_the_environment(monkeypatch):
    from inference.context import SPARSE_FROM

    monkeypatch.delenv("QUIRE_SPARSE_FROM", raising=False)
    assert EngineConfig().sparse_from == SPARSE_FROM == 32_768
    monkeypatch.setenv("QUIRE_SPARSE_FROM", "4096")
    assert EngineConfig().sparse_from == 4096
    monkeypatch.setenv("QUIRE_SPARSE_FROM", "lots")
    with pytest.raises(ValueError, match="QUIRE_SPARSE_FROM"):
        EngineConfig()


def test_block_allocator_hands_out_and_takes_back():
    allocator = BlockAllocator(4)
    blocks = allocator.allocate(3)
    assert len(set(blocks)) == 3
    assert allocator.num_free == 1
    with pytest.raises(MemoryError):
        allocator.allocate(2)
    allocator.free(blocks)
    assert allocator.num_free == 4
    with pytest.raises(ValueError, match="not allocated"):
        allocator.free([blocks[0]])


def test_block_hashes_differ_wherever_the_tokens_do():
    """The prefix cache serves a block's keys to any prompt whose chained hash matches, so the hash must not
    collide: Python's `hash` maps n and n + 2**61 - 1 to one value and its tuple hash can be steered to a
    chosen value, which let a prompt be crafted to read the keys of another's cached blocks."""
    wrapped = 5 + 2**61 - 1
    assert hash(5) == hash(wrapped)
    assert block_hashes([1, 5], 2) != block_hashes([1, wrapped], 2)
    assert block_hashes([1, 5, 2, 3], 2)[1] != block_hashes([1, wrapped, 2, 3], 2)[1]
    assert block_hashes([1, 5, 2, 3], 2) == block_hashes([1, 5, 2, 3, 4], 2)
    assert block_hashes([1, 5], 2) != block_hashes([1, 5], 2, salt=1)


def test_cache_write_lands_in_block_slots(loaded):
    cache = loaded[0].new_cache(num_blocks=3, block_size=2)
    keys = torch.randn(2, cache.keys.shape[-2], cache.keys.shape[-1])
    cache.write(0, torch.tensor([5, 0]), keys, keys * 2)
    torch.testing.assert_close(cache.keys[0, 2, 1], keys[0])
    torch.testing.assert_close(cache.values[0, 0, 0], keys[1] * 2)


@pytest.mark.parametrize("token_budget", [5, 8, 13])
def test_chunked_prefill_under_a_small_token_budget_matches_alone(loaded, prompts, token_budget):
    params = SamplingParams(max_tokens=6, ignore_eos=True)
    engine, _ = _generate_as_alone(
        loaded, prompts, params, num_blocks=128, block_size=4, max_num_batched_tokens=token_budget
    )
    assert max(len(p) for p in prompts) > token_budget
    prompt_tokens = sum(len(p) for p in prompts)
    assert prompt_tokens - len(prompts) <= engine.stats["prefill_tokens"] <= prompt_tokens
    assert engine.stats["steps"] >= prompt_tokens // token_budget
    assert engine.num_free_blocks == 128


def test_block_sparse_prompt_is_admitted_beside_running_decodes(loaded):
    tokenizer = loaded[1]
    engine = _engine(
        loaded, num_blocks=64, block_size=4, max_num_batched_tokens=16, sparse_from=32, sparse_block_size=16
    )
    short = engine.add_request(tokenizer.encode(TEXTS[1]), SamplingParams(max_tokens=30, ignore_eos=True))
    engine.step()
    long_prompt = tokenizer.encode(TEXTS[2] * 2)
    assert len(long_prompt) > 32
    long = engine.add_request(long_prompt, SamplingParams(max_tokens=2, ignore_eos=True))
    finished_at = {}
    step = 1
    while engine.has_work():
        step += 1
        for output in engine.step():
            if output.finished:
                finished_at[output.request_id] = step
    assert finished_at[long] < finished_at[short]


def test_prefix_cache_reuses_shared_prompt_blocks_and_matches_alone(loaded):
    tokenizer = loaded[1]
    document = tokenizer.encode(" ".join(TEXTS))
    questions = [tokenizer.encode(" Q: " + text, add_bos=False) for text in TEXTS[:3]]
    prompts = [document + question for question in questions]
    params = SamplingParams(max_tokens=5, ignore_eos=True)
    expected = [_alone(loaded, prompt, params) for prompt in prompts]
    engine = _engine(loaded, num_blocks=128, block_size=4)
    first = engine.generate(prompts[:1], params)
    assert engine.stats["cached_tokens"] == 0
    rest = engine.generate(prompts[1:], params)
    assert engine.stats["cached_tokens"] >= 2 * (len(document) // 4) * 4
    assert [r.output_ids for r in first + rest] == expected
    assert engine.num_free_blocks == 128
    uncached = _engine(loaded, num_blocks=128, block_size=4, enable_prefix_cache=False)
    uncached.generate(prompts, params)
    assert uncached.stats["cached_tokens"] == 0
    assert uncached.stats["prefill_tokens"] > engine.stats["prefill_tokens"]


def test_prefix_cache_is_off_for_length_dependent_rope(checkpoint_factory):
    model_dir = checkpoint_factory(rope="dynamic")
    engine = Engine(load_model(model_dir, device="cpu"), None, EngineConfig(num_blocks=8))
    assert not engine.scheduler.prefix_caching


def test_allocator_shares_hashed_blocks_and_evicts_least_recent_first():
    allocator = BlockAllocator(3)
    first, second = allocator.allocate(2)
    allocator.register(first, 101)
    allocator.register(second, 202)
    assert allocator.cached_prefix([101, 202, 303]) == [first, second]
    allocator.acquire([first])
    allocator.free([first, second])
    assert allocator.num_free == 2
    allocator.free([first])
    assert allocator.num_free == 3
    assert allocator.cached_prefix([101]) == [first]
    third = allocator.allocate(1)
    assert third not in ([first], [second])
    evicted = allocator.allocate(1)
    assert evicted == [second]
    assert allocator.cached_prefix([101, 202]) == [first]
    assert allocator.cached_prefix([202]) == []


def test_burst_of_prompts_over_one_document_computes_the_document_once(loaded):
    tokenizer = loaded[1]
    document = tokenizer.encode(" ".join(TEXTS))
    prompts = [document + tokenizer.encode(" Q: " + text, add_bos=False) for text in TEXTS[:3]]
    params = SamplingParams(max_tokens=4, ignore_eos=True)
    engine, _ = _generate_as_alone(loaded, prompts, params, num_blocks=128, block_size=4)
    shared_blocks = len(document) // 4
    assert engine.stats["cached_tokens"] >= 2 * shared_blocks * 4
    assert engine.stats["prefill_tokens"] <= sum(len(p) for p in prompts) - 2 * shared_blocks * 4


def test_warm_up_prefills_each_power_of_two_up_to_the_step_budget_and_leaves_the_engine_idle(loaded, prompts):
    params = SamplingParams(max_tokens=6, ignore_eos=True)
    engine = _engine(loaded, num_blocks=64, block_size=8, max_num_batched_tokens=128)
    assert engine.warm_up() == [16, 32, 64, 128]
    assert engine.stats["prefill_tokens"] == 16 + 32 + 64 + 128
    assert not engine.has_work() and not engine.requests
    assert engine.num_free_blocks == 64
    assert engine.generate([prompts[0]], params)[0].output_ids == _alone(loaded, prompts[0], params)


def test_warm_up_stays_inside_a_small_cache(loaded):
    engine = _engine(loaded, num_blocks=5, block_size=8, max_num_batched_tokens=8192)
    assert engine.warm_up() == [16, 32]


def test_warm_up_runs_one_block_sparse_prefill_past_the_step_budget_where_the_cache_holds_it(loaded):
    engine = _engine(loaded, num_blocks=64, block_size=8, max_num_batched_tokens=64, sparse_from=200)
    assert engine.warm_up() == [16, 32, 64, 200]
    assert engine.stats["sparse_prefills"] == 1
    small = _engine(loaded, num_blocks=24, block_size=8, max_num_batched_tokens=64, sparse_from=200)
    assert small.warm_up() == [16, 32, 64]


def test_eviction_takes_a_cached_prefix_from_its_tail(loaded):
    import random

    rng = random.Random(7)
    vocab = loaded[0].config.vocab_size
    document = [rng.randrange(5, vocab) for _ in range(40)]
    engine = _engine(loaded, num_blocks=12, block_size=4)
    params = SamplingParams(max_tokens=1, ignore_eos=True)
    engine.generate([[*document, 7]], params)
    engine.generate([[rng.randrange(5, vocab) for _ in range(10)]], params)
    assert engine.cache.allocator.num_free == 12
    before = engine.stats["cached_tokens"]
    engine.generate([[*document, 9]], params)
    assert engine.stats["cached_tokens"] - before >= 32


def test_preempted_prompt_reports_only_the_cached_tokens_it_found_on_arrival(loaded):
    import random

    rng = random.Random(5)
    vocab = loaded[0].config.vocab_size
    engine = _engine(loaded, num_blocks=12, block_size=4, max_num_batched_tokens=8)
    engine.add_request(
        [rng.randrange(5, vocab) for _ in range(6)], SamplingParams(max_tokens=20, ignore_eos=True)
    )
    engine.step()
    unrelated = engine.add_request(
        [rng.randrange(5, vocab) for _ in range(40)], SamplingParams(max_tokens=2, ignore_eos=True)
    )
    final = {}
    while engine.has_work():
        final.update({output.request_id: output for output in engine.step() if output.finished})
    assert engine.stats["preemptions"] == 1 and engine.stats["cached_tokens"] > 0
    assert final[unrelated].cached_tokens == 0


@pytest.mark.parametrize(
    ("prompt_tokens", "num_blocks", "sparse_prefills", "prefix_cache"),
    [(100, 56, 3, False), (100, 56, 3, True), (40, 32, 0, False)],
)
def test_preempted_sequence_recomputes_its_prompt_as_first_computed_and_matches_alone(
    loaded, prompt_tokens, num_blocks, sparse_prefills, prefix_cache
):
    """Block-sparse over a prompt of `sparse_from` tokens or more, never over the tokens it generated: a
    100-token prompt is block-sparse again, a 40-token one that grew past `sparse_from` stays dense."""
    import random

    rng = random.Random(1)
    vocab = loaded[0].config.vocab_size
    prompts = [[rng.randrange(5, vocab) for _ in range(prompt_tokens)] for _ in range(2)]
    params = SamplingParams(max_tokens=40, ignore_eos=True)
    config = dict(
        block_size=4, sparse_from=48, sparse_block_size=16, sparse_top_k=1, enable_prefix_cache=prefix_cache
    )
    alone = [_engine(loaded, num_blocks=128, **config).generate([p], params)[0].output_ids for p in prompts]
    engine = _engine(loaded, num_blocks=num_blocks, **config)
    results = engine.generate(prompts, params)
    assert engine.stats["preemptions"] == 1
    assert engine.stats["sparse_prefills"] == sparse_prefills
    assert [r.output_ids for r in results] == alone
    assert engine.num_free_blocks == num_blocks


@pytest.mark.parametrize(
    ("rope", "max_positions", "prompt_tokens", "num_blocks"),
    [("dynamic", 64, 50, 40), ("longrope", 256, 50, 40)],
)
def test_preempted_sequence_with_length_dependent_rope_matches_alone(
    checkpoint_factory, rope, max_positions, prompt_tokens, num_blocks
):
    """The recomputed prompt rotates with the prompt's length and each produced token at position p with
    p + 1, as they were first computed, though the sequence has grown past the original window since."""
    import random

    model = load_model(checkpoint_factory(rope=rope, max_positions=max_positions), device="cpu")
    rng = random.Random(1)
    prompts = [[rng.randrange(5, model.config.vocab_size) for _ in range(prompt_tokens)] for _ in range(2)]
    params = SamplingParams(max_tokens=40, ignore_eos=True)

    def engine(blocks: int) -> Engine:
        return Engine(model, None, EngineConfig(num_blocks=blocks, block_size=4))

    alone = [engine(128).generate([prompt], params)[0].output_ids for prompt in prompts]
    preempting = engine(num_blocks)
    results = preempting.generate(prompts, params)
    assert preempting.stats["preemptions"] == 1
    assert [r.output_ids for r in results] == alone


def test_dense_prompt_does_not_reuse_block_sparse_keys(loaded):
    import random

    rng = random.Random(3)
    vocab = loaded[0].config.vocab_size
    long_prompt = [rng.randrange(5, vocab) for _ in range(120)]
    short_prompt = long_prompt[:64] + [rng.randrange(5, vocab) for _ in range(4)]
    longer_prompt = long_prompt[:112] + [rng.randrange(5, vocab) for _ in range(4)]
    config = dict(num_blocks=128, block_size=8, sparse_from=96, sparse_block_size=16, sparse_top_k=1)
    params = SamplingParams(max_tokens=12, ignore_eos=True)
    alone = _engine(loaded, **config).generate([short_prompt], params)[0].output_ids
    engine = _engine(loaded, **config)
    engine.generate([long_prompt], params)
    assert engine.stats["sparse_prefills"] == 1
    assert engine.generate([short_prompt], params)[0].output_ids == alone
    assert engine.stats["cached_tokens"] == 0
    engine.generate([longer_prompt], params)
    assert engine.stats["cached_tokens"] == 112


@pytest.mark.parametrize("num_blocks", [22, 26])
def test_preempted_question_over_a_cached_block_sparse_document_recomputes_it_as_first_computed(
    loaded, num_blocks
):
    """A long prompt that found a document's block-sparse blocks prefilled only its own tokens, densely; once
    preempted and the document evicted it recomputed the document densely (or the whole prompt block-sparse)
    and went on with other tokens than it produced unpreempted."""
    import random

    rng = random.Random(3)
    vocab = loaded[0].config.vocab_size
    document = [rng.randrange(5, vocab) for _ in range(60)]
    first = [*document, rng.randrange(5, vocab)]
    question = [*document, *(rng.randrange(5, vocab) for _ in range(4))]
    other = [rng.randrange(5, vocab) for _ in range(20)]
    config = dict(block_size=4, sparse_from=48, sparse_block_size=16, sparse_top_k=1)
    params = SamplingParams(max_tokens=20, ignore_eos=True)
    unpreempted = _engine(loaded, num_blocks=128, **config)
    unpreempted.generate([first], SamplingParams(max_tokens=1, ignore_eos=True))
    expected = unpreempted.generate([question], params)[0].output_ids
    engine = _engine(loaded, num_blocks=num_blocks, **config)
    engine.generate([first], SamplingParams(max_tokens=1, ignore_eos=True))
    engine.add_request(other, SamplingParams(max_tokens=40, ignore_eos=True))
    engine.step()
    request_id = engine.add_request(question, params)
    final = {}
    while engine.has_work():
        final.update({output.request_id: output for output in engine.step() if output.finished})
    assert engine.stats["preemptions"] == 1
    assert engine.requests[request_id].output_ids == expected
    assert (final[request_id].cached_tokens, final[request_id].attention) == (60, "dense")
    assert engine.num_free_blocks == num_blocks


def test_a_long_prompt_sharing_only_a_short_header_with_a_cached_one_is_still_prefilled_block_sparse(loaded):
    """Two documents read under one system prompt share its blocks: the second found them and was prefilled
    densely over its whole length, its own tokens being anything but few, unlike a question over a cached
    document."""
    import random

    rng = random.Random(11)
    vocab = loaded[0].config.vocab_size
    header = [rng.randrange(5, vocab) for _ in range(8)]
    documents = [[*header, *(rng.randrange(5, vocab) for _ in range(60))] for _ in range(2)]
    config = dict(num_blocks=128, block_size=4, sparse_from=48, sparse_block_size=16, sparse_top_k=1)
    params = SamplingParams(max_tokens=8, ignore_eos=True)
    alone = _engine(loaded, **config).generate([documents[1]], params)[0].output_ids
    engine = _engine(loaded, **config)
    engine.generate([documents[0]], params)
    request_id = engine.add_request(documents[1], params)
    final = {}
    while engine.has_work():
        final.update({output.request_id: output for output in engine.step() if output.finished})
    assert engine.stats["sparse_prefills"] == 2
    assert (final[request_id].attention, final[request_id].cached_tokens) == ("block_sparse", 0)
    assert engine.requests[request_id].output_ids == alone
    question = [*documents[1], *(rng.randrange(5, vocab) for _ in range(3))]
    before = engine.stats["cached_tokens"]
    engine.generate([question], params)
    assert engine.stats["sparse_prefills"] == 2
    assert engine.stats["cached_tokens"] - before == len(documents[1])


def test_stop_string_after_a_character_still_being_decoded_streams_nothing_of_it(loaded, monkeypatch):
    tokenizer = loaded[1]
    script = tokenizer.tokenizer.encode("xaé!", add_special_tokens=False).ids
    assert tokenizer.decode(script[:3]) == "xa\ufffd"
    engine = _engine(loaded, num_blocks=32)
    tokens = iter(script)
    monkeypatch.setattr(engine.runner, "run", lambda batch: [next(tokens) for _ in batch.sampled])
    engine.add_request(
        tokenizer.encode(TEXTS[0]), SamplingParams(max_tokens=8, ignore_eos=True, stop=("aé",))
    )
    streamed = []
    reason = None
    while engine.has_work():
        for output in engine.step():
            streamed.append(output.text_delta)
            reason = output.finish_reason or reason
    assert ("".join(streamed), reason) == ("x", "stop")


def test_penalties_stop_a_token_repeating_and_logit_bias_forces_one(loaded):
    tokenizer = loaded[1]
    prompt = tokenizer.encode(TEXTS[0])
    first, second = tokenizer.encode("fox")[-1], tokenizer.encode("server")[-1]
    bias = ((first, 100.0), (second, 100.0))
    plain = _alone(loaded, prompt, SamplingParams(max_tokens=6, ignore_eos=True, logit_bias=bias))
    assert len(set(plain)) == 1 and plain[0] in (first, second)
    for penalties in ({"frequency_penalty": 2.0}, {"presence_penalty": 2.0}):
        output = _alone(
            loaded, prompt, SamplingParams(max_tokens=6, ignore_eos=True, logit_bias=bias, **penalties)
        )
        assert set(output) == {first, second}, penalties


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"frequency_penalty": 2.5}, "frequency_penalty"),
        ({"presence_penalty": -2.01}, "presence_penalty"),
        ({"logit_bias": ((5, 100.5),)}, "logit_bias"),
        ({"logit_bias": ((-1, 1.0),)}, "logit_bias"),
        ({"logit_bias": tuple((token, 1.0) for token in range(301))}, "logit_bias"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_sampling_settings_out_of_range_name_themselves(fields, param):
    from inference.engine import InvalidSamplingParam

    with pytest.raises(InvalidSamplingParam) as raised:
        SamplingParams(**fields)
    assert raised.value.param == param


def test_logit_bias_holds_up_to_300_tokens_as_openai_allows():
    assert len(SamplingParams(logit_bias=tuple((token, -1.0) for token in range(300))).logit_bias) == 300


def test_a_logit_bias_beyond_the_vocabulary_is_refused(loaded):
    vocab = loaded[0].config.vocab_size
    with pytest.raises(ValueError, match="logit_bias"):
        _engine(loaded, num_blocks=8).add_request([1, 2], SamplingParams(logit_bias=((vocab, 1.0),)))


def test_prompts_sharing_a_prefix_prefilled_in_chunks_compute_it_once(loaded):
    """The second prompt waits for the blocks the first is still prefilling rather than computing them too."""
    import random

    rng = random.Random(11)
    vocab = loaded[0].config.vocab_size
    document = [rng.randrange(5, vocab) for _ in range(20)]
    prompts = [document + [rng.randrange(5, vocab) for _ in range(3)] for _ in range(3)]
    params = SamplingParams(max_tokens=2, ignore_eos=True)
    engine = _engine(loaded, num_blocks=64, block_size=4, max_num_batched_tokens=16)
    ids = [engine.add_request(prompt, params) for prompt in prompts]
    final = {}
    while engine.has_work():
        final.update({output.request_id: output for output in engine.step() if output.finished})
    assert [final[request_id].cached_tokens for request_id in ids] == [0, 20, 20]
    assert engine.stats["prefill_tokens"] == len(prompts[0]) + 3 + 3
    assert [engine.requests[request_id].output_ids for request_id in ids] == [
        _alone(loaded, prompt, params) for prompt in prompts
    ]
    assert engine.num_free_blocks == 64


def test_an_unseeded_sampling_request_leaves_the_process_random_state_alone(loaded, prompts):
    engine = _engine(loaded, num_blocks=32)
    torch.manual_seed(1234)
    expected = torch.rand(4)
    torch.manual_seed(1234)
    engine.add_request(prompts[0], SamplingParams(max_tokens=2, temperature=1.0))
    assert torch.equal(torch.rand(4), expected)


def test_a_prompt_block_completed_by_its_last_token_alone_is_cached_too(loaded):
    """A budget one short of the prompt leaves its last token to a decode step; that token's block is a full
    prompt block like the others and a longer prompt over it finds it."""
    import random

    rng = random.Random(13)
    vocab = loaded[0].config.vocab_size
    document = [rng.randrange(5, vocab) for _ in range(20)]
    params = SamplingParams(max_tokens=2, ignore_eos=True)
    engine = _engine(loaded, num_blocks=32, block_size=4, max_num_batched_tokens=19)
    engine.generate([document], params)
    longer = [*document, *(rng.randrange(5, vocab) for _ in range(3))]
    request_id = engine.add_request(longer, params)
    final = {}
    while engine.has_work():
        final.update({output.request_id: output for output in engine.step() if output.finished})
    assert final[request_id].cached_tokens == 20
    assert engine.requests[request_id].output_ids == _alone(loaded, longer, params)
    assert engine.num_free_blocks == 32


def test_holding_back_a_stop_prefix_looks_only_at_the_text_not_yet_streamed(loaded, monkeypatch):
    """Which end of the text could still grow into a stop string was looked for over the whole text, each step:
    with a stop string longer than the answer that cost the square of the text's length a step, under the
    service's lock (33 ms a step at 16,000 characters). Only the text not yet streamed can start one."""
    from inference.engine import llm_engine

    tokenizer = loaded[1]
    script = tokenizer.tokenizer.encode("hello world, " * 40, add_special_tokens=False).ids
    engine = _engine(loaded, num_blocks=64)
    tokens = iter(script)
    monkeypatch.setattr(engine.runner, "run", lambda batch: [next(tokens) for _ in batch.sampled])
    looked_at: list[int] = []
    longest = llm_engine._longest_stop_prefix_suffix

    def recorded(text: str, stops: tuple[str, ...]) -> int:
        looked_at.append(len(text))
        return longest(text, stops)

    monkeypatch.setattr(llm_engine, "_longest_stop_prefix_suffix", recorded)
    stops = ("z" * 10_000, "world!")
    request_id = engine.add_request(
        [5, 6], SamplingParams(max_tokens=len(script), ignore_eos=True, stop=stops)
    )
    streamed = []
    while engine.has_work():
        streamed.extend(output.text_delta for output in engine.step() if output.request_id == request_id)
    assert "".join(streamed) == "hello world, " * 40
    assert max(looked_at) <= 8, max(looked_at)


def _metaspace_tokenizer():
    """A SentencePiece-style tokenizer (Metaspace: a word's leading space is a "▁" on its first piece, and the
    decoder drops the one that starts the text), whose decode of a suffix of the ids is no suffix of the whole."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from inference.tokenizer import ChatTokenizer
    from tests.support.checkpoints import CORPUS

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "</s>"], show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    return ChatTokenizer(tokenizer, {"eos_token": "</s>"})


@pytest.mark.parametrize("continues_prompt", [False, True])
@pytest.mark.parametrize("kind", ["byte_level", "metaspace"])
def test_text_decoded_a_step_at_a_time_equals_the_whole_decode(loaded, monkeypatch, kind, continues_prompt):
    """The engine decodes a few tokens a step, not the whole answer (whose cost grew with its length, each step,
    for every running sequence); the text must still be what decoding every token at once gives (after the
    prompt, for a text that continues it), through characters split over byte tokens, invalid bytes and special
    tokens, for either kind of decoder."""
    import random

    model, byte_level = loaded
    tokenizer = byte_level if kind == "byte_level" else _metaspace_tokenizer()
    vocab = tokenizer.tokenizer.get_vocab_size()
    rng = random.Random(7)
    words = tokenizer.tokenizer.encode("héllo wörld 😀 The quick fox", add_special_tokens=False).ids
    script = [rng.choice(words) if rng.random() < 0.6 else rng.randrange(vocab) for _ in range(200)]
    engine = Engine(model, tokenizer, EngineConfig(num_blocks=64))
    tokens = iter(script)
    monkeypatch.setattr(engine.runner, "run", lambda batch: [next(tokens) for _ in batch.sampled])
    decoded_lengths: list[int] = []
    decode = tokenizer.decode

    def counted(ids):
        decoded_lengths.append(len(ids))
        return decode(ids)

    monkeypatch.setattr(tokenizer, "decode", counted)
    prompt = words[:3]

    def whole(ids: list[int]) -> str:
        if not continues_prompt:
            return decode(ids)
        led = decode(prompt)
        after = decode([*prompt, *ids])
        return after[len(led) :] if after.startswith(led) else decode(ids)

    params = SamplingParams(max_tokens=len(script), ignore_eos=True, continues_prompt=continues_prompt)
    request_id = engine.add_request(prompt, params)
    sequence = engine.requests[request_id]
    streamed = []
    while engine.has_work():
        for output in engine.step():
            streamed.append(output.text_delta)
            assert sequence.text == whole(sequence.output_ids)
    assert "".join(streamed) == whole(script)
    assert sum(decoded_lengths) < 20 * len(script), "the engine decoded each step's whole answer"


@pytest.mark.parametrize("continues_prompt", [True, False])
def test_a_completion_keeps_the_space_a_sentencepiece_decoder_drops_at_the_start_of_a_text(
    loaded, monkeypatch, continues_prompt
):
    """ "The capital of France is" then "▁Paris": decoded alone, the answer is "Paris", and prompt plus
    completion read "isParis". A completion continues its prompt (`continues_prompt`), so it is decoded after
    the prompt's last tokens and keeps " Paris", streamed and whole; a chat answer is a text of its own."""
    model, _ = loaded
    tokenizer = _metaspace_tokenizer()
    prompt = tokenizer.tokenizer.encode("The quick fox", add_special_tokens=False).ids
    answer = tokenizer.tokenizer.encode("The quick fox jumps over", add_special_tokens=False).ids[
        len(prompt) :
    ]
    assert tokenizer.decode(answer) == "jumps over"
    engine = Engine(model, tokenizer, EngineConfig(num_blocks=64))
    tokens = iter(answer)
    monkeypatch.setattr(engine.runner, "run", lambda batch: [next(tokens) for _ in batch.sampled])
    params = SamplingParams(max_tokens=len(answer), ignore_eos=True, continues_prompt=continues_prompt)
    request_id = engine.add_request(prompt, params)
    sequence = engine.requests[request_id]
    streamed = []
    while engine.has_work():
        streamed.extend(output.text_delta for output in engine.step() if output.request_id == request_id)
    text = "".join(streamed)
    assert sequence.text == text
    if continues_prompt:
        assert tokenizer.decode(prompt) + text == "The quick fox jumps over"
    else:
        assert text == "jumps over"


def test_logprobs_are_the_models_own_log_softmax_at_each_step(loaded, tiny_checkpoint):
    """Each generated token's reported log-probability, and its step's likeliest tokens, equal transformers'
    log-softmax of the same model's logits there (not the distribution temperature or penalties reshape); a
    request that does not ask gets none."""
    from transformers import LlamaForCausalLM

    model, tokenizer = loaded
    prompt = tokenizer.encode(TEXTS[0])
    engine = Engine(model, tokenizer, EngineConfig(num_blocks=64))
    asking = engine.add_request(prompt, SamplingParams(max_tokens=5, temperature=0.8, seed=3, logprobs=4))
    silent = engine.add_request(prompt, SamplingParams(max_tokens=5, ignore_eos=True))
    reported = {asking: [], silent: []}
    while engine.has_work():
        for output in engine.step():
            reported[output.request_id].extend(output.logprobs)
    assert reported[silent] == []
    outputs = engine.requests[asking].output_ids
    assert [item.token_id for item in reported[asking]] == outputs
    reference = LlamaForCausalLM.from_pretrained(tiny_checkpoint).eval()
    with torch.no_grad():
        logits = reference(torch.tensor([prompt + outputs])).logits[0].float()
    expected = torch.log_softmax(logits[len(prompt) - 1 : len(prompt) - 1 + len(outputs)], dim=-1)
    for step, item in enumerate(reported[asking]):
        assert item.logprob == pytest.approx(expected[step, item.token_id].item(), abs=1e-4)
        values, ids = expected[step].topk(4)
        assert [token for token, _ in item.top] == ids.tolist()
        assert [value for _, value in item.top] == pytest.approx(values.tolist(), abs=1e-4)

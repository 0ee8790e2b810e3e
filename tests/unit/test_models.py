"""Config import (every architecture entry, every bundled config), parameter counts against published
figures, hand-computed KV-cache and recurrent-state sizes, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from modelchip.errors import UserError
from modelchip.models import (
    ARCHITECTURES,
    ModelSpec,
    bundled_config,
    count_params,
    kv_cache_bytes,
    kv_cache_bytes_per_token,
    linear_state_bytes_per_sequence,
    list_models,
    load_model,
    weight_bytes,
)
from modelchip.models.hf import EXAMPLES

B = 1e9

# ---------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------


def test_bundled_models_are_listed() -> None:
    ids = list_models()
    assert len(ids) == 29
    assert "deepseek-ai/DeepSeek-R1" in ids
    assert all(i.count("/") == 1 for i in ids)


@pytest.mark.parametrize("model_id", list_models())
def test_every_bundled_config_loads(model_id: str) -> None:
    spec = load_model(model_id)
    assert isinstance(spec, ModelSpec)
    assert spec.id == model_id
    assert spec.architecture == bundled_config(model_id)["architectures"][0]
    assert spec.num_layers > 0 and spec.hidden_size > 0 and spec.vocab_size > 0
    counts = count_params(spec)
    assert 0 < counts.active <= counts.total


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_architecture_entry_has_a_loading_example(architecture: str) -> None:
    example = EXAMPLES[architecture]
    assert example in list_models()
    assert load_model(example).architecture == architecture


def test_examples_cover_exactly_the_table() -> None:
    assert set(EXAMPLES) == set(ARCHITECTURES)


def test_ids_are_case_insensitive_and_files_and_directories_load(tmp_path: Path) -> None:
    assert load_model("DEEPSEEK-AI/deepseek-r1").id == "deepseek-ai/DeepSeek-R1"
    config = bundled_config("meta-llama/Meta-Llama-3.1-8B")
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    from_file = load_model(str(tmp_path / "config.json"))
    from_dir = load_model(str(tmp_path))
    assert from_file.layers == from_dir.layers == load_model("meta-llama/Meta-Llama-3.1-8B").layers
    assert from_file.id == str(tmp_path / "config.json")


# ---------------------------------------------------------------------------------------------------
# Normalised structure
# ---------------------------------------------------------------------------------------------------


def test_deepseek_v3_structure() -> None:
    spec = load_model("deepseek-ai/DeepSeek-V3")
    kinds = [layer.mlp.kind for layer in spec.layers]
    assert kinds == ["dense"] * 3 + ["moe"] * 58  # first_k_dense_replace = 3
    attn, moe = spec.layers[-1].attention, spec.layers[-1].mlp
    assert (attn.kind, attn.q_lora_rank, attn.kv_lora_rank, attn.qk_rope_head_dim, attn.head_dim) == (
        "mla", 1536, 512, 64, 192,
    )  # fmt: skip
    assert (moe.num_experts, moe.top_k, moe.shared_intermediate_size) == (256, 8, 2048)
    assert spec.mtp_layers == 1
    assert (spec.native_weight_format, spec.weight_block_size) == ("fp8", (128, 128))
    assert spec.max_context == 163840


def test_dsa_models_carry_the_indexer() -> None:
    v32 = load_model("deepseek-ai/DeepSeek-V3.2").layers[0].attention
    assert (v32.sparse_topk, v32.indexer_heads, v32.indexer_head_dim) == (2048, 64, 128)
    glm = load_model("zai-org/GLM-5").layers[0].attention
    assert (glm.kind, glm.sparse_topk, glm.indexer_heads, glm.head_dim, glm.v_head_dim) == (
        "mla",
        2048,
        32,
        256,
        256,
    )
    assert load_model("deepseek-ai/DeepSeek-V3").layers[0].attention.sparse_topk is None


def test_qwen3_5_hybrid_linear_attention() -> None:
    spec = load_model("Qwen/Qwen3.5-397B-A17B")
    kinds = [layer.attention.kind for layer in spec.layers]
    assert kinds == (["linear"] * 3 + ["gqa"]) * 15  # full_attention_interval = 4
    full, linear = spec.layers[3].attention, spec.layers[0].attention
    assert full.output_gate and (full.num_heads, full.num_kv_heads, full.head_dim) == (32, 2, 256)
    assert (linear.linear_key_heads, linear.linear_value_heads, linear.linear_conv_kernel) == (16, 64, 4)
    mlp = spec.layers[0].mlp
    assert (mlp.num_experts, mlp.top_k, mlp.shared_intermediate_size) == (512, 10, 1024)
    assert spec.mtp_layers == 1
    assert not load_model("Qwen/Qwen3.5-27B").is_moe


def test_sliding_window_layers() -> None:
    oss = load_model("openai/gpt-oss-120b")
    assert [layer.attention.sliding_window for layer in oss.layers[:4]] == [128, None, 128, None]
    assert oss.native_weight_format == "mxfp4" and oss.layers[0].mlp.mlp_bias
    mimo = load_model("XiaomiMiMo/MiMo-V2-Flash")
    full, swa = mimo.layers[0].attention, mimo.layers[1].attention
    assert (full.sliding_window, full.num_kv_heads, full.head_dim, full.v_head_dim) == (None, 4, 192, 128)
    assert (swa.sliding_window, swa.num_kv_heads) == (128, 8)
    assert [layer.mlp.kind for layer in mimo.layers[:2]] == ["dense", "moe"]
    gemma = load_model("google/gemma-4-26B-A4B")
    local, glob = gemma.layers[0].attention, gemma.layers[5].attention
    assert (local.sliding_window, local.head_dim, local.num_kv_heads) == (1024, 256, 8)
    assert (glob.sliding_window, glob.head_dim, glob.num_kv_heads) == (None, 512, 2)
    assert gemma.tie_word_embeddings
    step = load_model("stepfun-ai/Step-3.7-Flash")
    assert (step.layers[1].attention.sliding_window, step.layers[0].attention.sliding_window) == (512, None)
    assert step.mtp_layers == 3 and [m.mlp.kind for m in step.layers[2:4]] == ["dense", "moe"]


def test_llama4_interleaving_and_chunked_attention() -> None:
    maverick = load_model("meta-llama/Llama-4-Maverick-17B-128E-Instruct")
    assert [layer.mlp.kind for layer in maverick.layers[:4]] == ["dense", "moe", "dense", "moe"]
    assert maverick.layers[0].mlp.intermediate_size == 16384  # intermediate_size_mlp
    assert maverick.layers[1].mlp.shared_intermediate_size == 8192
    windows = [layer.attention.sliding_window for layer in maverick.layers[:4]]
    assert windows == [8192, 8192, 8192, None]  # iRoPE: every 4th layer global
    assert all(layer.mlp.kind == "moe" for layer in load_model("meta-llama/Llama-4-Scout-17B-16E-Instruct").layers)


def test_native_weight_formats() -> None:
    assert load_model("moonshotai/Kimi-K2.5").native_weight_format == "int4"  # compressed-tensors, experts
    assert load_model("meta-llama/Llama-2-70b-chat-hf").native_weight_format == "fp16"
    assert load_model("Qwen/Qwen3-8B").native_weight_format == "bf16"
    assert load_model("MiniMaxAI/MiniMax-M2.5").native_weight_format == "fp8"


def test_qwen2_has_qkv_bias() -> None:
    assert load_model("Qwen/Qwen2.5-72B-Instruct").layers[0].attention.attention_bias
    assert not load_model("Qwen/Qwen3-32B").layers[0].attention.attention_bias


# ---------------------------------------------------------------------------------------------------
# Parameter counts vs published figures
# ---------------------------------------------------------------------------------------------------
# `active` counts the vocab x hidden matrix once (as the LM head). Vendors differ: OpenAI (gpt-oss
# model card, Table 1) excludes the input embedding from active parameters, as `active` does; Qwen
# and Meta include it (their figures need `active + input_embedding`). Where a vendor does not say,
# the convention is the one its rounding fits, marked below. A figure given as a rounded name
# (e.g. "A17B") is checked to its rounding (+-0.5 of the last digit) when that is looser than 2 %.


class Published(NamedTuple):
    model_id: str
    total_b: float
    active_b: float | None
    convention: str
    """'head': the vendor's active count leaves out the input embedding (as `active` does);
    'both': it counts the input embedding too (compare `active + input_embedding`)."""
    source: str


PUBLISHED = [
    Published(
        "deepseek-ai/DeepSeek-V3",
        671,
        37,
        "head",
        "DeepSeek-V3 report arXiv 2412.19437 abstract: 671B total, 37B activated",
    ),
    Published("deepseek-ai/DeepSeek-R1", 671, 37, "head", "DeepSeek-R1 model card: 671B total, 37B activated"),
    Published(
        "deepseek-ai/DeepSeek-V3.2",
        671,
        37,
        "head",
        "DeepSeek-V3.2 keeps V3's 671B main model + 37B activated; DSA indexer adds 0.85B",
    ),
    Published("Qwen/Qwen3-235B-A22B", 235, 22, "both", "Qwen3-235B-A22B model card: 235B total, 22B activated"),
    Published("Qwen/Qwen3-30B-A3B", 30.5, 3.3, "both", "Qwen3-30B-A3B model card: 30.5B total, 3.3B activated"),
    Published(
        "Qwen/Qwen3-Coder-480B-A35B-Instruct",
        480,
        35,
        "both",
        "Qwen3-Coder model card: 480B total, 35B activated",
    ),
    Published("Qwen/Qwen3-32B", 32.8, None, "both", "Qwen3-32B model card: 32.8B"),
    Published("Qwen/Qwen3-8B", 8.2, None, "both", "Qwen3-8B model card: 8.2B"),
    Published("Qwen/Qwen2.5-72B-Instruct", 72.7, None, "both", "Qwen2.5-72B-Instruct model card: 72.7B"),
    Published("Qwen/Qwen3.5-397B-A17B", 397, 17, "both", "Qwen3.5-397B-A17B model card: 397B total, 17B activated"),
    Published("Qwen/Qwen3.5-27B", 27, None, "both", "Qwen3.5-27B model card / name: 27B"),
    Published("openai/gpt-oss-120b", 116.83, 5.13, "head", "gpt-oss model card (arXiv 2508.10925) Table 1"),
    Published("openai/gpt-oss-20b", 20.91, 3.61, "head", "gpt-oss model card (arXiv 2508.10925) Table 1"),
    Published("meta-llama/Meta-Llama-3.1-405B", 405, None, "both", "Llama 3.1 model card: 405B"),
    Published("meta-llama/Meta-Llama-3.1-70B", 70.6, None, "both", "Llama 3.1 70B HF page: 70.6B params"),
    Published("meta-llama/Meta-Llama-3.1-8B", 8.0, None, "both", "Llama 3.1 8B HF page: 8.03B params"),
    # Meta's 109B includes the vision encoder (~1B), which is not part of the language model counted here.
    Published(
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        109,
        17,
        "both",
        "Llama 4 model card: 17B active, 109B total",
    ),
    Published(
        "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
        400,
        17,
        "both",
        "Llama 4 model card: 17B active, 400B total",
    ),
    Published(
        "mistralai/Mixtral-8x7B-v0.1",
        46.7,
        12.9,
        "both",
        "Mixtral of Experts, arXiv 2401.04088: 47B total, 13B active; 46.7B/12.9B in the Mixtral blog",
    ),
    Published(
        "mistralai/Mixtral-8x22B-v0.1",
        141,
        39,
        "both",
        "Mistral 'Cheaper, Better, Faster, Stronger' post: 141B total, 39B active",
    ),
    Published(
        "moonshotai/Kimi-K2-Instruct",
        1040,
        32,
        "head",
        "Kimi K2 report arXiv 2507.20534: 1.04T total, 32B activated",
    ),
    Published(
        "moonshotai/Kimi-K2.5",
        1040,
        32,
        "head",
        "Kimi K2.5 model card: 1T total, 32B activated (K2 text model)",
    ),
    Published("zai-org/GLM-5", 744, None, "head", "GLM-5 model card: 744B total (40B active; convention unstated)"),
    Published("XiaomiMiMo/MiMo-V2-Flash", 309, 15, "head", "MiMo-V2-Flash model card: 309B total, 15B active"),
    Published(
        "MiniMaxAI/MiniMax-M2.5",
        230,
        None,
        "head",
        "MiniMax-M2 model card: 230B total (M2.5 keeps the architecture)",
    ),
]


def _tolerance(figure: float) -> float:
    """2 %, or the rounding of an integer figure (+-0.5) if looser."""
    rounding = 0.5 / figure if float(figure).is_integer() else 0.0
    return max(0.02, rounding)


@pytest.mark.parametrize("published", PUBLISHED, ids=[p.model_id for p in PUBLISHED])
def test_counts_match_published_figures(published: Published) -> None:
    counts = count_params(load_model(published.model_id))
    assert counts.total / B == pytest.approx(published.total_b, rel=0.02), published.source
    if published.active_b is not None:
        ours = counts.active + (counts.input_embedding if published.convention == "both" else 0)
        assert ours / B == pytest.approx(published.active_b, rel=_tolerance(published.active_b)), published.source


def test_deepseek_v3_checkpoint_with_mtp_is_685b() -> None:
    # DeepSeek-V3 model card: 685B on the Hub = 671B main model + 14B MTP module; the stored MTP module
    # carries its own copy of the embedding and output head, which the model shares at run time.
    spec = load_model("deepseek-ai/DeepSeek-V3")
    counts, with_mtp = count_params(spec), count_params(spec, include_mtp=True)
    assert with_mtp.total == counts.total + counts.mtp
    assert with_mtp.active > counts.active
    assert (counts.total + counts.mtp + counts.embedding) / B == pytest.approx(685, rel=0.01)


def test_components_sum_to_total() -> None:
    for model_id in (
        "zai-org/GLM-5",
        "Qwen/Qwen3.5-397B-A17B",
        "openai/gpt-oss-120b",
        "google/gemma-4-26B-A4B",
    ):
        c = count_params(load_model(model_id))
        parts = c.embedding + c.attention + c.mlp_dense + c.experts_routed + c.experts_shared + c.other
        assert parts == c.total


def test_weight_bytes() -> None:
    spec = load_model("meta-llama/Meta-Llama-3.1-8B")
    assert weight_bytes(spec, 2.0) == 2 * count_params(spec).total
    assert weight_bytes(spec, 2.0) / B == pytest.approx(16.06, rel=0.001)


# ---------------------------------------------------------------------------------------------------
# KV cache and recurrent state (hand-computed)
# ---------------------------------------------------------------------------------------------------


def test_kv_bytes_per_token_gqa_and_mla() -> None:
    # Llama-3.1-70B: 80 layers x (k + v) x 8 KV heads x 128 x 2 B
    assert kv_cache_bytes_per_token(load_model("meta-llama/Meta-Llama-3.1-70B"), 2) == 80 * 2 * 8 * 128 * 2 == 327_680
    # DeepSeek-V3: 61 layers x (512 latent + 64 rope key) x 2 B, one latent shared by all heads
    assert kv_cache_bytes_per_token(load_model("deepseek-ai/DeepSeek-V3"), 2) == 61 * (512 + 64) * 2 == 70_272
    # DeepSeek-V3.2 adds the indexer key (128 per token per layer), stored at the same element size
    assert kv_cache_bytes_per_token(load_model("deepseek-ai/DeepSeek-V3.2"), 2) == 61 * (512 + 64 + 128) * 2


def test_kv_cache_caps_sliding_window_layers() -> None:
    spec = load_model("openai/gpt-oss-120b")  # 18 full + 18 sliding (128) layers, 8 KV heads x 64
    per_layer_token = 8 * 64 * 2 * 2  # k + v, 2 B
    assert kv_cache_bytes_per_token(spec, 2) == 36 * per_layer_token
    expected = 18 * 8192 * per_layer_token + 18 * 128 * per_layer_token
    assert kv_cache_bytes(spec, 8192, 2) == expected == 306_708_480
    assert kv_cache_bytes(spec, 100, 2) == 36 * 100 * per_layer_token


def test_linear_layers_have_state_not_kv() -> None:
    spec = load_model("Qwen/Qwen3.5-397B-A17B")
    # 15 full-attention layers x 2 KV heads x (256 + 256) x 2 B; the 45 Gated DeltaNet layers add none
    assert kv_cache_bytes_per_token(spec, 2) == 15 * 2 * 512 * 2 == 30_720
    # per DeltaNet layer: 64 value heads x 128 x 128 state + conv tail 3 x (2 x 16 x 128 + 64 x 128)
    per_layer = 64 * 128 * 128 + 3 * (2 * 16 * 128 + 64 * 128)
    assert linear_state_bytes_per_sequence(spec, 4) == 45 * per_layer * 4
    assert linear_state_bytes_per_sequence(load_model("meta-llama/Meta-Llama-3.1-8B"), 2) == 0


# ---------------------------------------------------------------------------------------------------
# Bad input: one-line UserErrors naming the input and the fix
# ---------------------------------------------------------------------------------------------------


def _write(tmp_path: Path, data: object, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_unknown_id_names_closest_ids() -> None:
    with pytest.raises(UserError, match=r"unknown model id 'deepseek-ai/DeepSeek-R2'.*closest:.*DeepSeek-R1"):
        load_model("deepseek-ai/DeepSeek-R2")
    with pytest.raises(UserError, match="unknown model id"):
        bundled_config("nope/nothing")


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"architectures": ["LlamaForCausalLM"],', encoding="utf-8")
    with pytest.raises(UserError, match=r"config\.json:\d+: malformed JSON"):
        load_model(str(path))


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    config = bundled_config("meta-llama/Meta-Llama-3.1-8B")
    del config["num_hidden_layers"]
    path = _write(tmp_path, config)
    with pytest.raises(UserError, match=rf"^{path}: field 'num_hidden_layers' is missing; add it"):
        load_model(str(path))


def test_missing_nested_field_is_dotted(tmp_path: Path) -> None:
    config = bundled_config("Qwen/Qwen3.5-27B")
    del config["text_config"]["linear_num_key_heads"]
    with pytest.raises(UserError, match=r"field 'text_config\.linear_num_key_heads' is missing"):
        load_model(str(_write(tmp_path, config)))


def test_wrong_type_names_the_value(tmp_path: Path) -> None:
    config = {**bundled_config("Qwen/Qwen3-8B"), "hidden_size": "4096"}
    with pytest.raises(UserError, match=r"field 'hidden_size' must be an integer \(got '4096'\)"):
        load_model(str(_write(tmp_path, config)))


def test_unsupported_architecture_lists_supported_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, {"architectures": ["FancyNewForCausalLM"], "hidden_size": 8})
    with pytest.raises(UserError) as info:
        load_model(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert "'FancyNewForCausalLM' is not supported" in message
    assert all(arch in message for arch in ARCHITECTURES)


def test_missing_architectures_and_non_object(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="field 'architectures' is missing"):
        load_model(str(_write(tmp_path, {"hidden_size": 8})))
    with pytest.raises(UserError, match="expected a JSON object"):
        load_model(str(_write(tmp_path, [1, 2], "list.json")))


def test_missing_file_and_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found"):
        load_model(str(tmp_path / "absent.json"))
    with pytest.raises(UserError, match=r"has no config\.json"):
        load_model(str(tmp_path))


def test_inconsistent_layer_list_is_a_user_error(tmp_path: Path) -> None:
    config = bundled_config("openai/gpt-oss-20b")
    config["layer_types"] = config["layer_types"][:5]
    with pytest.raises(UserError, match=r"field 'layer_types' must list one of"):
        load_model(str(_write(tmp_path, config)))

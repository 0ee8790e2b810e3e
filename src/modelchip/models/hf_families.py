"""One normaliser per architecture family: a Hugging Face config dict -> `ModelSpec`.

Each reads only documented config keys; layer patterns follow the model's own transformers code
(cited per function). Multimodal wrappers normalise their `text_config` (the language model).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelchip.models.hf_fields import ConfigFieldError, Fields
from modelchip.models.hf_layers import (
    CHUNKED,
    FULL,
    LINEAR,
    SLIDING,
    build_spec,
    dense_mlp,
    gated_deltanet,
    gqa,
    layer_types,
    mla,
    moe_mlp,
    with_window,
)
from modelchip.models.schema import AttentionSpec, LayerSpec, MLPSpec, ModelSpec


def _num_layers(f: Fields) -> int:
    return f.integer("num_hidden_layers")


def _repeat(attention: AttentionSpec, mlp: MLPSpec, n: int) -> list[LayerSpec]:
    return [LayerSpec(attention, mlp)] * n


def _sliding_windows(f: Fields, n: int) -> list[int | None]:
    """Qwen2/Mistral style: `sliding_window` on layers >= `max_window_layers` when `use_sliding_window`."""
    if not f.flag("use_sliding_window", True) or not f.has("sliding_window"):
        return [None] * n
    start = f.integer("max_window_layers", 0, positive=False) if f.has("use_sliding_window") else 0
    window = f.integer("sliding_window")
    return [window if i >= start else None for i in range(n)]


def _dense_gqa(cfg: dict[str, Any], model_id: str, bias_default: bool) -> ModelSpec:
    f = Fields(cfg)
    n = _num_layers(f)
    attention = gqa(f, bias_default=bias_default)
    mlp = dense_mlp(f, bias=f.flag("mlp_bias", False))
    layers = [LayerSpec(with_window(attention, w), mlp) for w in _sliding_windows(f, n)]
    return build_spec(f, model_id, layers)


def llama(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Llama 2/3, Qwen3 dense: GQA + SwiGLU on every layer."""
    return _dense_gqa(cfg, model_id, bias_default=False)


def qwen2(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Qwen2/2.5: as Llama, with biases on the q/k/v projections (no `attention_bias` key)."""
    return _dense_gqa(cfg, model_id, bias_default=True)


def mixtral(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Mixtral: every layer MoE (`num_local_experts`, top-k of experts of width `intermediate_size`)."""
    f = Fields(cfg)
    n = _num_layers(f)
    attention = gqa(f)
    mlp = moe_mlp(f, "num_local_experts")
    layers = [LayerSpec(with_window(attention, w), mlp) for w in _sliding_windows(f, n)]
    return build_spec(f, model_id, layers)


def _qwen_moe_layers(f: Fields, n: int) -> list[MLPSpec]:
    """Qwen2/3-MoE: layer i is sparse unless in `mlp_only_layers`, every `decoder_sparse_step`-th layer."""
    step = f.integer("decoder_sparse_step", 1)
    dense_only = set(f.int_list("mlp_only_layers"))
    moe = moe_mlp(f, "num_experts", shared_size=f.integer("shared_expert_intermediate_size", 0, positive=False))
    dense = dense_mlp(f) if dense_only or step > 1 else moe
    return [moe if i not in dense_only and (i + 1) % step == 0 else dense for i in range(n)]


def qwen_moe(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Qwen3-MoE (Qwen3-30B-A3B, 235B-A22B, Coder-480B)."""
    f = Fields(cfg)
    n = _num_layers(f)
    attention = gqa(f, bias_default=f.flag("qkv_bias", False))
    layers = [LayerSpec(attention, mlp) for mlp in _qwen_moe_layers(f, n)]
    return build_spec(f, model_id, layers)


def _deepseek_spec(f: Fields, model_id: str, outer: Fields | None) -> ModelSpec:
    """DeepSeek-V3 layout: MLA on all layers; the first `first_k_dense_replace` layers dense, then MoE
    on every `moe_layer_freq`-th layer (DeepSeek-V3 report, arXiv 2412.19437, section 2.1.2)."""
    n = _num_layers(f)
    attention = mla(f)
    first_dense = f.integer("first_k_dense_replace", 0, positive=False)
    freq = f.integer("moe_layer_freq", 1)
    shared = f.integer("n_shared_experts", 0, positive=False) * f.integer("moe_intermediate_size")
    moe = moe_mlp(f, "n_routed_experts", shared_size=shared)
    dense = dense_mlp(f)
    mlps = [moe if i >= first_dense and i % freq == 0 else dense for i in range(n)]
    mtp = f.integer("num_nextn_predict_layers", 0, positive=False)
    return build_spec(f, model_id, [LayerSpec(attention, m) for m in mlps], mtp_layers=mtp, outer=outer)


def deepseek(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """DeepSeek-V3/R1/V3.2 (DSA), Kimi-K2, GLM-5 (GLM-MoE-DSA): MLA + DeepSeekMoE."""
    f = Fields(cfg)
    return _deepseek_spec(f, model_id, None)


def kimi_k25(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Kimi-K2.5: a vision wrapper around a DeepSeek-V3-layout `text_config`."""
    f = Fields(cfg)
    return _deepseek_spec(f.sub("text_config"), model_id, f)


def _llama4_layer_types(f: Fields, n: int) -> list[str]:
    """Llama 4: RoPE layers use chunked attention, every 4th layer is global NoPE (iRoPE)."""
    if not f.has("attention_chunk_size"):
        return [FULL] * n
    if f.has("layer_types"):
        return layer_types(f, n)
    rope_layers = f.int_list("no_rope_layers") or [
        int((i + 1) % f.integer("no_rope_layer_interval", 4) != 0) for i in range(n)
    ]
    return [CHUNKED if uses_rope else FULL for uses_rope in rope_layers[:n]]


def llama4(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Llama 4 Scout/Maverick: MoE every `interleave_moe_layer_step`-th layer (one routed + one shared
    expert of width `intermediate_size`), dense layers of width `intermediate_size_mlp`."""
    outer = Fields(cfg)
    f = outer.sub("text_config") if outer.has("text_config") else outer
    n = _num_layers(f)
    step = f.integer("interleave_moe_layer_step", 1)
    moe_layers = set(f.int_list("moe_layers") or range(step - 1, n, step))
    moe = moe_mlp(f, "num_local_experts", shared_size=f.integer("intermediate_size"))
    dense = dense_mlp(f, "intermediate_size_mlp")
    attention = gqa(f)
    chunk = f.opt_int("attention_chunk_size")
    layers = [
        LayerSpec(with_window(attention, chunk if kind == CHUNKED else None), moe if i in moe_layers else dense)
        for i, kind in enumerate(_llama4_layer_types(f, n))
    ]
    notes = ["chunked local attention modelled as a sliding window of `attention_chunk_size`"] if chunk else []
    return build_spec(f, model_id, layers, outer=outer, notes=notes)


def gpt_oss(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """gpt-oss: alternating sliding/full GQA with biases and sinks; MoE with biased SwiGLU experts."""
    f = Fields(cfg)
    n = _num_layers(f)
    attention = gqa(f, bias_default=True)
    window = f.opt_int("sliding_window")
    mlp = moe_mlp(f, "num_local_experts", bias=True)
    layers = [LayerSpec(with_window(attention, window if kind == SLIDING else None), mlp) for kind in layer_types(f, n)]
    return build_spec(f, model_id, layers)


def _qwen3_5_kinds(f: Fields, n: int) -> list[str]:
    """Qwen3-Next/3.5 hybrid: Gated DeltaNet layers with a full-attention layer every `interval`-th."""
    if f.has("layer_types"):
        return layer_types(f, n)
    interval = f.integer("full_attention_interval", 4)
    return [FULL if (i + 1) % interval == 0 else LINEAR for i in range(n)]


def qwen3_5(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Qwen3.5 (dense and MoE): hybrid Gated DeltaNet / gated full attention; `text_config` of a VLM."""
    outer = Fields(cfg)
    f = outer.sub("text_config") if outer.has("text_config") else outer
    n = _num_layers(f)
    full = replace(gqa(f), output_gate=f.flag("attn_output_gate", True))
    linear = gated_deltanet(f)
    mlps = _qwen_moe_layers(f, n) if f.has("num_experts") else [dense_mlp(f)] * n
    layers = [
        LayerSpec(linear if kind == LINEAR else full, m) for kind, m in zip(_qwen3_5_kinds(f, n), mlps, strict=True)
    ]
    mtp = f.integer("mtp_num_hidden_layers", 0, positive=False)
    return build_spec(f, model_id, layers, mtp_layers=mtp, outer=outer)


def minimax_m2(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """MiniMax-M2/M2.5: full GQA on all layers, every layer MoE with experts of width `intermediate_size`."""
    f = Fields(cfg)
    n = _num_layers(f)
    if f.has("attn_type_list"):
        kinds = f.items("attn_type_list", n) or []
        if any(k != 1 for k in kinds):
            raise ConfigFieldError(
                f"field '{f.name('attn_type_list')}' has lightning-attention layers (0), which MiniMax-M2 "
                "does not have; MiniMax-M1/Text-01 are not supported"
            )
    shared = f.integer("shared_intermediate_size", 0, positive=False)
    mlp = moe_mlp(f, "num_local_experts", shared_size=shared)
    mtp = 0
    if f.flag("use_mtp", False):
        mtp = f.integer("num_mtp_modules", 1) * f.integer("mtp_transformer_layers", 1)
    return build_spec(f, model_id, _repeat(gqa(f), mlp, n), mtp_layers=mtp)


def _mimo_swa_attention(f: Fields) -> AttentionSpec:
    heads = f.integer("swa_num_attention_heads", f.integer("num_attention_heads"))
    head_dim = f.integer("swa_head_dim", f.integer("head_dim"))
    return AttentionSpec(
        kind="gqa",
        num_heads=heads,
        num_kv_heads=f.integer("swa_num_key_value_heads", f.integer("num_key_value_heads")),
        head_dim=head_dim,
        v_head_dim=f.integer("swa_v_head_dim", f.integer("v_head_dim", head_dim)),
        sliding_window=f.integer("sliding_window_size", f.integer("sliding_window")),
        attention_bias=f.flag("attention_bias", False),
    )


def _flags(f: Fields, key: str, n: int, default: list[int]) -> list[int]:
    """A per-layer 0/1 list (e.g. MiMo `hybrid_layer_pattern`, `moe_layer_freq`)."""
    raw = f.items(key, n) if isinstance(f.raw(key), list) else None
    if raw is None:
        return default
    if not all(v in (0, 1) for v in raw):
        raise ConfigFieldError(f"field '{f.name(key)}' must hold 0 or 1 per layer; fix it")
    return [int(v) for v in raw]


def mimo_v2_flash(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """MiMo-V2-Flash: hybrid SWA (`hybrid_layer_pattern` 1) / full (0) GQA; dense first layer, then MoE
    (`moe_layer_freq` 1). SWA layers have their own head counts (`swa_*`)."""
    f = Fields(cfg)
    n = _num_layers(f)
    default_swa = [0 if i == 0 or (i + 1) % 6 == 0 else 1 for i in range(n)]
    swa = _flags(f, "hybrid_layer_pattern", n, default_swa)
    sparse = _flags(f, "moe_layer_freq", n, [0] + [1] * (n - 1))
    shared = f.integer("n_shared_experts", 0, positive=False) * f.integer("moe_intermediate_size")
    moe, dense = moe_mlp(f, "n_routed_experts", shared_size=shared), dense_mlp(f)
    full_attention, swa_attention = gqa(f), _mimo_swa_attention(f)
    layers = [
        LayerSpec(swa_attention if s else full_attention, moe if m else dense) for s, m in zip(swa, sparse, strict=True)
    ]
    mtp = f.integer("num_nextn_predict_layers", 0, positive=False)
    return build_spec(f, model_id, layers, mtp_layers=mtp)


def _step_sparse_layers(f: Fields, n: int) -> set[int]:
    """Step 3.x: MoE layers from `moe_layers_enum` (string or list), else from `first_k_dense_replace`."""
    enum = f.raw("moe_layers_enum")
    if isinstance(enum, str):
        try:
            return {int(i) for i in enum.split(",") if i.strip()}
        except ValueError as exc:
            raise ConfigFieldError(f"field '{f.name('moe_layers_enum')}' must list layer indices; fix it") from exc
    if isinstance(enum, list):
        return set(f.int_list("moe_layers_enum"))
    return set(range(f.integer("first_k_dense_replace", 3, positive=False), n))


def step3p7(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Step-3.7-Flash: GQA with sliding-window layers (own head count if `num_sliding_attention_heads`),
    dense first layers then MoE with one shared expert of width `share_expert_dim`."""
    f = Fields(cfg)
    n = _num_layers(f)
    experts_key = next((k for k in ("n_routed_experts", "num_experts", "moe_num_experts") if f.has(k)), "num_experts")
    shared = f.integer("n_shared_experts", 1, positive=False) * f.integer("share_expert_dim", 0, positive=False)
    moe, dense = moe_mlp(f, experts_key, shared_size=shared), dense_mlp(f)
    full = gqa(f)
    sliding = replace(
        full,
        num_heads=f.integer("num_sliding_attention_heads", full.num_heads),
        sliding_window=f.integer("sliding_window"),
    )
    sparse = _step_sparse_layers(f, n)
    layers = [
        LayerSpec(sliding if kind == SLIDING else full, moe if i in sparse else dense)
        for i, kind in enumerate(layer_types(f, n))
    ]
    mtp = f.integer("num_nextn_predict_layers", 0, positive=False)
    return build_spec(f, model_id, layers, mtp_layers=mtp)


def gemma4(cfg: dict[str, Any], model_id: str) -> ModelSpec:
    """Gemma 4: 5 sliding-window layers per global layer; global layers have `global_head_dim` and
    `num_global_key_value_heads`. With `enable_moe_block` every layer runs a dense MLP (modelled as a
    shared expert) beside `num_experts` routed experts (top `top_k_experts`)."""
    outer = Fields(cfg)
    f = outer.sub("text_config") if outer.has("text_config") else outer
    n = _num_layers(f)
    local = replace(gqa(f), sliding_window=f.integer("sliding_window"))
    global_kv = f.integer("num_global_key_value_heads", local.num_kv_heads)
    global_dim = f.integer("global_head_dim", local.head_dim)
    full = replace(local, sliding_window=None, num_kv_heads=global_kv, head_dim=global_dim, v_head_dim=global_dim)
    mlp = dense_mlp(f)
    if f.flag("enable_moe_block", False):
        mlp = moe_mlp(f, "num_experts", shared_size=f.integer("intermediate_size"), top_k_key="top_k_experts")
    layers = [LayerSpec(local if kind == SLIDING else full, mlp) for kind in layer_types(f, n, SLIDING)]
    notes = []
    if f.flag("attention_k_eq_v", False):
        notes.append("global layers reuse the key projection as values (attention_k_eq_v); counted as k and v")
    if f.integer("num_kv_shared_layers", 0, positive=False) or f.integer(
        "hidden_size_per_layer_input", 0, positive=False
    ):
        notes.append("KV-shared layers / per-layer embeddings are not modelled")
    return build_spec(f, model_id, layers, outer=outer, notes=notes)

"""Shared pieces of the config normalisers: attention and MLP specs, per-layer patterns, the final spec."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from modelchip.models.hf_fields import ConfigFieldError, Fields, weight_format
from modelchip.models.schema import AttentionSpec, LayerSpec, MLPSpec, ModelSpec

FULL = "full_attention"
SLIDING = "sliding_attention"
LINEAR = "linear_attention"
CHUNKED = "chunked_attention"


def gqa(f: Fields, *, heads_key: str = "num_attention_heads", bias_default: bool = False) -> AttentionSpec:
    """MHA/GQA/MQA: `num_key_value_heads` defaults to the head count, `head_dim` to hidden/heads."""
    heads = f.integer(heads_key)
    head_dim = f.integer("head_dim", f.integer("hidden_size") // heads)
    return AttentionSpec(
        kind="gqa",
        num_heads=heads,
        num_kv_heads=f.integer("num_key_value_heads", heads),
        head_dim=head_dim,
        v_head_dim=f.integer("v_head_dim", head_dim),
        attention_bias=f.flag("attention_bias", bias_default),
    )


def mla(f: Fields) -> AttentionSpec:
    """DeepSeek multi-head latent attention (DeepSeek-V2 paper, arXiv 2405.04434, section 2.1).

    The cache holds one `kv_lora_rank` latent plus one shared `qk_rope_head_dim` key per token. DSA
    (DeepSeek-V3.2) adds a lightning indexer that keeps `index_topk` tokens per query.
    """
    nope, rope = f.integer("qk_nope_head_dim"), f.integer("qk_rope_head_dim")
    heads = f.integer("num_attention_heads")
    sparse = f.has("index_topk")
    return AttentionSpec(
        kind="mla",
        num_heads=heads,
        num_kv_heads=f.integer("num_key_value_heads", heads),
        head_dim=nope + rope,
        v_head_dim=f.integer("v_head_dim"),
        attention_bias=f.flag("attention_bias", False),
        q_lora_rank=f.opt_int("q_lora_rank"),
        kv_lora_rank=f.integer("kv_lora_rank"),
        qk_rope_head_dim=rope,
        qk_nope_head_dim=nope,
        sparse_topk=f.integer("index_topk") if sparse else None,
        indexer_heads=f.integer("index_n_heads") if sparse else 0,
        indexer_head_dim=f.integer("index_head_dim") if sparse else 0,
    )


def gated_deltanet(f: Fields) -> AttentionSpec:
    """Gated DeltaNet linear attention (Yang et al., arXiv 2412.06464) as used by Qwen3-Next/3.5."""
    key_heads, value_heads = f.integer("linear_num_key_heads"), f.integer("linear_num_value_heads")
    key_dim, value_dim = f.integer("linear_key_head_dim"), f.integer("linear_value_head_dim")
    return AttentionSpec(
        kind="linear",
        num_heads=value_heads,
        num_kv_heads=key_heads,
        head_dim=key_dim,
        v_head_dim=value_dim,
        output_gate=True,
        linear_key_heads=key_heads,
        linear_value_heads=value_heads,
        linear_key_head_dim=key_dim,
        linear_value_head_dim=value_dim,
        linear_conv_kernel=f.integer("linear_conv_kernel_dim", 4),
    )


def dense_mlp(f: Fields, key: str = "intermediate_size", *, bias: bool = False) -> MLPSpec:
    return MLPSpec(kind="dense", intermediate_size=f.integer(key), mlp_bias=bias)


def moe_mlp(
    f: Fields,
    experts_key: str,
    *,
    shared_size: int = 0,
    bias: bool = False,
    top_k_key: str = "num_experts_per_tok",
) -> MLPSpec:
    """Routed experts of width `moe_intermediate_size` (else `intermediate_size`), top-k routing."""
    width_key = "moe_intermediate_size" if f.has("moe_intermediate_size") else "intermediate_size"
    experts, top_k = f.integer(experts_key), f.integer(top_k_key)
    if top_k > experts:
        raise ConfigFieldError(f"field '{f.name(top_k_key)}' ({top_k}) exceeds the expert count ({experts}); fix it")
    return MLPSpec(
        kind="moe",
        intermediate_size=f.integer(width_key),
        num_experts=experts,
        top_k=top_k,
        num_shared_experts=1 if shared_size else 0,
        shared_intermediate_size=shared_size,
        mlp_bias=bias,
    )


def layer_types(f: Fields, n_layers: int, default: str = FULL) -> list[str]:
    """`layer_types` (one entry per layer, MTP padding dropped) or `default` for every layer."""
    raw = f.items("layer_types")
    if raw is None:
        return [default] * n_layers
    if len(raw) > n_layers:
        raw = raw[:n_layers]
    known = {FULL, SLIDING, LINEAR, CHUNKED}
    if len(raw) != n_layers or not all(isinstance(t, str) and t in known for t in raw):
        raise ConfigFieldError(
            f"field '{f.name('layer_types')}' must list one of {sorted(known)} per layer ({n_layers} layers); fix it"
        )
    return [str(t) for t in raw]


def with_window(attention: AttentionSpec, window: int | None) -> AttentionSpec:
    return replace(attention, sliding_window=window)


def architecture(f: Fields) -> str:
    archs = f.items("architectures") or []
    return str(archs[0]) if archs else "unknown"


def build_spec(
    f: Fields,
    model_id: str,
    layers: Sequence[LayerSpec],
    *,
    mtp_layers: int = 0,
    outer: Fields | None = None,
    notes: Sequence[str] = (),
) -> ModelSpec:
    """The common tail of every normaliser: sizes, tying, weight format, context length. `outer` is the
    multimodal wrapper around a `text_config` `f` (its architecture and defaults apply)."""
    fmt = weight_format(f, outer)
    tie_default = outer.flag("tie_word_embeddings", False) if outer is not None else False
    all_notes = [*notes, *([fmt.note] if fmt.note else [])]
    return ModelSpec(
        id=model_id,
        architecture=architecture(outer or f),
        hidden_size=f.integer("hidden_size"),
        vocab_size=f.integer("vocab_size"),
        layers=tuple(layers),
        mtp_layers=mtp_layers,
        tie_word_embeddings=f.flag("tie_word_embeddings", tie_default),
        native_weight_format=fmt.name,
        weight_block_size=fmt.block_size,
        max_context=f.integer("max_position_embeddings", 4096),
        notes=tuple(all_notes),
    )

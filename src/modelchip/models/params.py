"""Parameter counts, weight bytes and KV-cache / recurrent-state sizes of a `ModelSpec`.

Counts follow the modules of the reference implementations (transformers' modeling files): every
linear layer's weight (and bias where the config says so), embeddings, routers and RMSNorm weights.
Small per-model extras that configs do not describe (attention sinks, q/k norms, output gates of a
few scalars per head) are left out; they are < 0.1 % of any bundled model.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.models.schema import AttentionSpec, LayerSpec, MLPSpec, ModelSpec


@dataclass(frozen=True)
class ParamCounts:
    """Parameters by component. `total` sums the components (MTP only if asked for).

    `active` is what one token computes with: the top-k routed experts, shared experts and all dense
    weights, with the vocab x hidden matrix counted once (as the LM head). An untied input embedding
    is a row lookup, not a matmul, so it is in `total` but not `active` (OpenAI's gpt-oss convention);
    vendors that count it (Qwen, Meta) quote `active + input_embedding`.
    """

    total: int
    active: int
    embedding: int
    """input embedding plus the LM head when untied."""
    attention: int
    mlp_dense: int
    experts_routed: int
    experts_shared: int
    mtp: int
    """multi-token-prediction modules (counted in total/active only with include_mtp=True)."""
    other: int
    """norms and MoE routers."""
    input_embedding: int = 0
    """the untied input embedding table (0 when tied): part of `total` and `embedding`, not `active`."""


def attention_params(a: AttentionSpec, hidden: int) -> int:
    """Weights (and biases) of one attention or linear-attention block."""
    if a.kind == "mla":
        return _mla_params(a, hidden)
    if a.kind == "linear":
        return _gated_deltanet_params(a, hidden)
    h, kv = a.num_heads, a.num_kv_heads
    q_out = h * a.head_dim * (2 if a.output_gate else 1)
    k_out, v_out = kv * a.head_dim, kv * a.v_head_dim
    weights = hidden * (q_out + k_out + v_out) + h * a.v_head_dim * hidden
    biases = q_out + k_out + v_out + hidden if a.attention_bias else 0
    return weights + biases


def _mla_params(a: AttentionSpec, hidden: int) -> int:
    """MLA (DeepSeek-V2 eq. 9-14): q_a/q_b low-rank query, kv_a to latent + rope key, kv_b up-projection."""
    h, qk = a.num_heads, a.qk_nope_head_dim + a.qk_rope_head_dim
    rank = a.q_lora_rank
    q = (hidden + 1 + h * qk) * rank if rank else hidden * h * qk  # q_a, its norm, q_b (or a plain q)
    kv_a = hidden * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank  # kv_a and its norm
    kv_b = a.kv_lora_rank * h * (a.qk_nope_head_dim + a.v_head_dim)
    o = h * a.v_head_dim * hidden
    return q + kv_a + kv_b + o + _indexer_params(a, hidden)


def _indexer_params(a: AttentionSpec, hidden: int) -> int:
    """DSA lightning indexer (DeepSeek-V3.2): wq_b from the q latent, one shared key (wk + LayerNorm),
    per-head weights."""
    if not a.sparse_topk:
        return 0
    q_in = a.q_lora_rank or hidden
    ih, idim = a.indexer_heads, a.indexer_head_dim
    return q_in * ih * idim + hidden * idim + 2 * idim + hidden * ih


def _gated_deltanet_params(a: AttentionSpec, hidden: int) -> int:
    """Gated DeltaNet (Qwen3-Next/3.5): in_proj q,k,v,z and per-head b,a; depthwise conv over q,k,v;
    A_log and dt_bias per value head; gated RMSNorm; out_proj."""
    key_dim = a.linear_key_heads * a.linear_key_head_dim
    value_dim = a.linear_value_heads * a.linear_value_head_dim
    conv_dim = 2 * key_dim + value_dim
    in_proj = hidden * (conv_dim + value_dim + 2 * a.linear_value_heads)
    conv = conv_dim * a.linear_conv_kernel
    return in_proj + conv + 2 * a.linear_value_heads + a.linear_value_head_dim + value_dim * hidden


def _ffn_params(width: int, hidden: int, gated: bool, bias: bool) -> int:
    mats = 3 if gated else 2
    b = (width * (2 if gated else 1) + hidden) if bias else 0
    return mats * hidden * width + b


@dataclass(frozen=True)
class _MLPParams:
    dense: int = 0
    routed: int = 0
    routed_active: int = 0
    shared: int = 0
    router: int = 0


def _mlp_params(m: MLPSpec, hidden: int) -> _MLPParams:
    if m.kind == "dense":
        return _MLPParams(dense=_ffn_params(m.intermediate_size, hidden, m.gated, m.mlp_bias))
    expert = _ffn_params(m.intermediate_size, hidden, m.gated, m.mlp_bias)
    shared = _ffn_params(m.shared_intermediate_size, hidden, m.gated, m.mlp_bias) if m.shared_intermediate_size else 0
    router = m.num_experts * hidden + (m.num_experts if m.mlp_bias else 0)
    return _MLPParams(routed=m.num_experts * expert, routed_active=m.top_k * expert, shared=shared, router=router)


@dataclass(frozen=True)
class _LayerParams:
    attention: int
    mlp: _MLPParams
    norms: int

    @property
    def total(self) -> int:
        return self.attention + self.mlp.dense + self.mlp.routed + self.mlp.shared + self.mlp.router + self.norms

    @property
    def active(self) -> int:
        return self.total - self.mlp.routed + self.mlp.routed_active


def _layer_params(layer: LayerSpec, hidden: int) -> _LayerParams:
    return _LayerParams(attention_params(layer.attention, hidden), _mlp_params(layer.mlp, hidden), 2 * hidden)


def _mtp_params(spec: ModelSpec) -> tuple[int, int]:
    """(total, active) of the MTP modules: each a decoder layer shaped like the last one, two input
    norms, a 2h -> h projection and an output norm; embedding and head are shared with the main model
    (DeepSeek-V3 report, arXiv 2412.19437, section 2.2)."""
    if not spec.mtp_layers or not spec.layers:
        return 0, 0
    h = spec.hidden_size
    layer = _layer_params(spec.layers[-1], h)
    extra = 2 * h * h + 3 * h
    return spec.mtp_layers * (layer.total + extra), spec.mtp_layers * (layer.active + extra)


def count_params(spec: ModelSpec, include_mtp: bool = False) -> ParamCounts:
    """Parameter counts of `spec` (MTP modules in `mtp`; added to total/active only if `include_mtp`)."""
    h = spec.hidden_size
    input_embedding = 0 if spec.tie_word_embeddings else spec.vocab_size * h
    embedding = spec.vocab_size * h + input_embedding
    attention = dense = routed = routed_active = shared = other = 0
    for layer, count in spec.layer_groups():
        p = _layer_params(layer, h)
        attention += count * p.attention
        dense += count * p.mlp.dense
        routed += count * p.mlp.routed
        routed_active += count * p.mlp.routed_active
        shared += count * p.mlp.shared
        other += count * (p.mlp.router + p.norms)
    other += h  # final norm
    mtp_total, mtp_active = _mtp_params(spec)
    base = embedding + attention + dense + shared + other
    return ParamCounts(
        total=base + routed + (mtp_total if include_mtp else 0),
        active=base - input_embedding + routed_active + (mtp_active if include_mtp else 0),
        embedding=embedding,
        attention=attention,
        mlp_dense=dense,
        experts_routed=routed,
        experts_shared=shared,
        mtp=mtp_total,
        other=other,
        input_embedding=input_embedding,
    )


def weight_bytes(spec: ModelSpec, bytes_per_param: float, include_mtp: bool = False) -> float:
    """Bytes of all weights stored at `bytes_per_param` (e.g. 2 for BF16, 1 for FP8, ~0.53 for MXFP4)."""
    return count_params(spec, include_mtp).total * bytes_per_param


def kv_elements_per_token(attention: AttentionSpec) -> int:
    """Cached elements per token of one layer: GQA k + v per KV head; MLA one latent + one rope key
    shared by all heads; DSA adds the indexer key; linear layers cache no per-token state."""
    if attention.kind == "linear":
        return 0
    if attention.kind == "mla":
        indexer = attention.indexer_head_dim if attention.sparse_topk else 0
        return attention.kv_lora_rank + attention.qk_rope_head_dim + indexer
    return attention.num_kv_heads * (attention.head_dim + attention.v_head_dim)


def kv_cache_bytes_per_token(spec: ModelSpec, bytes_per_element: float) -> float:
    """KV-cache bytes one token adds, summed over layers (sliding-window layers counted in full;
    see `kv_cache_bytes` for the cap at the window)."""
    elements = sum(count * kv_elements_per_token(layer.attention) for layer, count in spec.layer_groups())
    return elements * bytes_per_element


def kv_cache_bytes(spec: ModelSpec, context_len: int, bytes_per_element: float) -> float:
    """KV-cache bytes of one sequence of `context_len` tokens; sliding-window layers hold at most
    `sliding_window` tokens."""
    total = 0
    for layer, count in spec.layer_groups():
        window = layer.attention.sliding_window
        tokens = min(context_len, window) if window else context_len
        total += count * tokens * kv_elements_per_token(layer.attention)
    return total * bytes_per_element


def linear_state_elements(attention: AttentionSpec) -> int:
    """Per-sequence state of one linear-attention layer: the delta-rule matrix state (key_dim x
    value_dim per value head) plus the causal-conv tail (kernel - 1 columns of q, k, v)."""
    if attention.kind != "linear":
        return 0
    recurrent = attention.linear_value_heads * attention.linear_key_head_dim * attention.linear_value_head_dim
    conv_dim = 2 * attention.linear_key_heads * attention.linear_key_head_dim
    conv_dim += attention.linear_value_heads * attention.linear_value_head_dim
    return recurrent + conv_dim * max(attention.linear_conv_kernel - 1, 0)


def linear_state_bytes_per_sequence(spec: ModelSpec, bytes_per_element: float) -> float:
    """Fixed per-sequence state of all linear-attention layers (independent of context length)."""
    elements = sum(count * linear_state_elements(layer.attention) for layer, count in spec.layer_groups())
    return elements * bytes_per_element

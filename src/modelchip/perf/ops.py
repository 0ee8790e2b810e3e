"""Model -> op list for one forward step on one device (DESIGN rule 6: immutable records, no costs here).

Counts are per device (a chip, or a die where dies are separate devices), per pipeline stage.
GEMM FLOPs are 2*M*N*K; attention FLOPs follow FlashAttention's 4*T*ctx*heads*d accounting
(Dao et al. 2022), halved for the causal part of a prompt; MLA decode runs in the absorbed form
of DeepSeek-V2 (arXiv 2405.04434, sec. 2.1.3) and reads one (kv_lora_rank + rope) latent per token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from modelchip.deploy.precision import is_weight_only
from modelchip.models.schema import AttentionSpec, LayerSpec, MLPSpec
from modelchip.perf.target import Target

OpKind = Literal["gemm", "attention_prefill", "attention_decode", "memory", "comm"]
Collective = Literal["", "all_reduce", "all_to_all", "p2p"]

ACT_BYTES = 2.0  # activations travel and are stored in BF16

Num: TypeAlias = float | npt.NDArray[np.float64]
"""A scalar, or an array of step shapes evaluated at once (the vectorised path in perf.vector)."""


@dataclass(frozen=True)
class StepShape:
    """Work of one forward step on one attention rank."""

    phase: Literal["prefill", "decode"]
    sequences: Num
    """sequences in the rank's batch."""
    new_tokens: Num
    """tokens per sequence in this step (prefill: the chunk; decode: 1 + draft tokens)."""
    context: Num
    """KV length already cached per sequence before this step (prefix hits, or the decode context)."""
    context_spread: Num = 0.0
    """std / mean of the per-sequence decode context across the running batch (0: equal contexts)."""

    @property
    def tokens(self) -> Num:
        return self.sequences * self.new_tokens


@cache
def expected_max_normal(n: int) -> float:
    """E[max of n independent standard normals] = integral of x n phi(x) Phi(x)^(n-1) dx (numerically)."""
    if n <= 1:
        return 0.0
    x = np.linspace(-9.0, 9.0, 7201)
    normal = NormalDist()
    cdf = np.array([normal.cdf(v) for v in x])
    pdf = np.exp(-x * x / 2.0) / math.sqrt(2.0 * math.pi)
    return float(np.sum(x * n * pdf * cdf ** (n - 1)) * (x[1] - x[0]))


def busiest_rank_factor(t: Target, shape: StepShape) -> Num:
    """KV work of the busiest attention-DP rank over the mean rank's, in a decode step.

    Engines balance attention-DP ranks by request count, not by KV length (TensorRT-LLM ADP balance,
    tech blog 10; SGLang DP attention), and the MoE exchange after attention waits for the slowest rank.
    Each rank's KV is the sum over its c sequences, so its relative spread is context_spread / sqrt(c),
    and the busiest of n ranks sits E[max of n normals] spreads above the mean. TensorRT-LLM measured an
    average balance ratio (mean / max tokens) of 0.877 with its balancing on, i.e. a factor of 1.14.
    """
    ranks = t.attention_ranks
    if ranks <= 1 or shape.phase != "decode":
        return 1.0
    return 1.0 + expected_max_normal(ranks) * shape.context_spread / np.sqrt(np.maximum(shape.sequences, 1.0))


@dataclass(frozen=True)
class Op:
    name: str
    kind: OpKind
    flops: Num
    bytes: Num
    """HBM bytes moved (comm: bytes each device sends)."""
    fmt: str = "bf16"
    m: Num = 0.0
    """GEMM rows (tokens), for shape-dependent efficiency."""
    count: float = 1.0
    """occurrences per step on this device (layers of this shape in the stage)."""
    collective: Collective = ""
    group: int = 1
    """devices in the collective."""
    copies: float = 1.0
    """all-to-all: destinations per token (top-k); `bytes` counts all copies, the local one included."""
    dedup_by_domain: bool = False
    """all-to-all: one copy per destination scale-up domain crosses the scale-out network and is
    forwarded inside it (DeepEP normal mode, used for prefill); False: one copy per expert (low-latency mode)."""
    k: float = 0.0
    """GEMM reduction length, for shape-dependent efficiency (0: not a GEMM)."""
    weight_only: bool = False
    """GEMM whose weights are stored narrower than its math format and unpacked in the main loop (W4A16)."""


def _gemm(name: str, m: Num, n: Num, k: float, weight_bytes: float, fmt: str, count: float) -> Op:
    traffic = n * k * weight_bytes + m * (n + k) * ACT_BYTES
    return Op(name, "gemm", 2.0 * m * n * k, traffic, fmt, m, count, k=k, weight_only=is_weight_only(weight_bytes, fmt))


def _attended(att: AttentionSpec, shape: StepShape) -> Num:
    """Mean keys each new token attends to."""
    ctx = shape.context + (shape.new_tokens + 1) / 2 if shape.phase == "prefill" else shape.context + shape.new_tokens
    if att.sliding_window:
        ctx = np.minimum(ctx, float(att.sliding_window))
    if att.sparse_topk:
        ctx = np.minimum(ctx, float(att.sparse_topk))
    return ctx


def _cached(att: AttentionSpec, shape: StepShape) -> Num:
    """Keys read from the cache per sequence."""
    ctx = shape.context + shape.new_tokens
    return np.minimum(ctx, float(att.sliding_window)) if att.sliding_window else ctx


def gqa_ops(att: AttentionSpec, h: int, t: Target, shape: StepShape, count: float) -> list[Op]:
    tp = t.layout.tp
    heads, kv_heads = att.num_heads / tp, max(1.0, att.num_kv_heads / tp)
    q_width = heads * att.head_dim * (2 if att.output_gate else 1)
    qkv_n = q_width + kv_heads * (att.head_dim + att.v_head_dim)
    wb, fmt, T = t.precision.weight_bytes, t.precision.gemm_format, shape.tokens
    busiest = busiest_rank_factor(t, shape)
    ctx = _attended(att, shape) * busiest
    core_flops = 2.0 * T * ctx * heads * (att.head_dim + att.v_head_dim)
    kv_width = kv_heads * (att.head_dim + att.v_head_dim) * t.precision.kv_bytes
    kv_read = shape.sequences * _cached(att, shape) * busiest * kv_width
    kind: OpKind = "attention_prefill" if shape.phase == "prefill" else "attention_decode"
    return [
        _gemm("attn.qkv_proj", T, qkv_n, h, wb, fmt, count),
        Op(
            "attn.core", kind, core_flops, kv_read + 2 * T * q_width * ACT_BYTES, t.precision.attention_format, T, count
        ),
        _gemm("attn.o_proj", T, h, heads * att.v_head_dim, wb, fmt, count),
    ]


def mla_ops(att: AttentionSpec, h: int, t: Target, shape: StepShape, count: float) -> list[Op]:
    tp = t.layout.tp
    heads = att.num_heads / tp
    wb, fmt, T = t.precision.weight_bytes, t.precision.gemm_format, shape.tokens
    q_in = att.q_lora_rank or h
    latent = att.kv_lora_rank + att.qk_rope_head_dim
    ops = [
        _gemm("attn.q_a_kv_a_proj", T, (att.q_lora_rank or 0) + latent, h, wb, fmt, count),
        _gemm("attn.q_b_proj", T, heads * att.head_dim, q_in, wb, fmt, count),
    ]
    busiest = busiest_rank_factor(t, shape)
    ctx = _attended(att, shape) * busiest
    kv_read = shape.sequences * _cached(att, shape) * busiest * latent * t.precision.kv_bytes
    if shape.phase == "decode":
        # Absorbed MLA: q_nope -> latent space (W_UK), attention over the shared latent, latent -> v (W_UV).
        ops.append(_gemm("attn.absorb_uk", T, heads * att.kv_lora_rank, att.qk_nope_head_dim, wb, fmt, count))
        core = 2.0 * T * ctx * heads * (latent + att.kv_lora_rank)
        ops.append(Op("attn.core_mla", "attention_decode", core, kv_read, t.precision.attention_format, T, count))
        ops.append(_gemm("attn.absorb_uv", T, heads * att.v_head_dim, att.kv_lora_rank, wb, fmt, count))
    else:
        # Prefill: up-project the latent of every cached and new token (kv_b), then plain MHA.
        up_tokens = shape.sequences * (shape.context + shape.new_tokens)
        kv_b_n = heads * (att.qk_nope_head_dim + att.v_head_dim)
        ops.append(_gemm("attn.kv_b_proj", up_tokens, kv_b_n, att.kv_lora_rank, wb, fmt, count))
        core = 2.0 * T * ctx * heads * (att.head_dim + att.v_head_dim)
        ops.append(Op("attn.core", "attention_prefill", core, kv_read, t.precision.attention_format, T, count))
    ops.append(_gemm("attn.o_proj", T, h, heads * att.v_head_dim, wb, fmt, count))
    if att.sparse_topk:
        ops.extend(_indexer_ops(att, h, t, shape, count))
    return ops


def _indexer_ops(att: AttentionSpec, h: int, t: Target, shape: StepShape, count: float) -> list[Op]:
    """DeepSeek DSA lightning indexer: FP8 scores of every cached key for each new token (V3.2 report)."""
    T = shape.tokens
    keys = shape.context + (shape.new_tokens + 1) / 2 if shape.phase == "prefill" else shape.context + 1
    flops = 2.0 * T * keys * att.indexer_heads * att.indexer_head_dim
    traffic = shape.sequences * (shape.context + shape.new_tokens) * att.indexer_head_dim * 1.0
    q_in = att.q_lora_rank or h
    return [
        _gemm(
            "attn.indexer_proj",
            T,
            att.indexer_heads * att.indexer_head_dim + att.indexer_head_dim,
            q_in,
            t.precision.weight_bytes,
            t.precision.gemm_format,
            count,
        ),
        Op(
            "attn.indexer",
            "attention_prefill" if shape.phase == "prefill" else "attention_decode",
            flops,
            traffic,
            "fp8" if t.chip.compute.peak_flops("fp8") else t.precision.attention_format,
            T,
            count,
        ),
    ]


def linear_attention_ops(att: AttentionSpec, h: int, t: Target, shape: StepShape, count: float) -> list[Op]:
    """Gated DeltaNet-style layer: projections plus a per-head (dk x dv) recurrent state."""
    tp = t.layout.tp
    k_heads, v_heads = att.linear_key_heads / tp, att.linear_value_heads / tp
    dk, dv = att.linear_key_head_dim, att.linear_value_head_dim
    T, wb, fmt = shape.tokens, t.precision.weight_bytes, t.precision.gemm_format
    in_n = 2 * k_heads * dk + 2 * v_heads * dv + 2 * v_heads
    state_bytes = shape.sequences * v_heads * dk * dv * 4.0  # FP32 state
    core_flops = 4.0 * T * v_heads * dk * dv
    kind: OpKind = "attention_prefill" if shape.phase == "prefill" else "attention_decode"
    return [
        _gemm("linear_attn.in_proj", T, in_n, h, wb, fmt, count),
        Op("linear_attn.core", kind, core_flops, 2 * state_bytes + T * in_n * ACT_BYTES, "bf16", T, count),
        _gemm("linear_attn.out_proj", T, h, v_heads * dv, wb, fmt, count),
    ]


def dense_mlp_ops(mlp_width: float, gated: bool, h: int, t: Target, tokens: Num, count: float, name: str) -> list[Op]:
    width = mlp_width / t.layout.tp
    wb, fmt = t.precision.weight_bytes, t.precision.gemm_format
    # The activation (SiLU(gate) x up, or GELU) is its own elementwise kernel between the two GEMMs:
    # it reads the up/gate output and writes the down projection's input.
    act_bytes = tokens * width * (3 if gated else 2) * ACT_BYTES
    return [
        _gemm(f"{name}.up_gate", tokens, width * (2 if gated else 1), h, wb, fmt, count),
        Op(f"{name}.act", "memory", 4.0 * tokens * width, act_bytes, count=count),
        _gemm(f"{name}.down", tokens, h, width, wb, fmt, count),
    ]


def moe_ops(mlp: MLPSpec, h: int, t: Target, shape: StepShape, count: float) -> list[Op]:
    """Routed experts on one device: tokens of every attention rank, top-k routed, spread over ep devices."""
    lay = t.layout
    tokens_all = shape.tokens * t.attention_ranks
    experts_local = max(1.0, mlp.num_experts / lay.ep)
    # With more devices than experts, redundant replicas split an expert's tokens (EPLB): each device
    # gets 1/ep of all token-expert pairs either way.
    pairs_per_expert = tokens_all * mlp.top_k / max(mlp.num_experts, lay.ep)
    imbalance = t.moe_imbalance if lay.ep > 1 else 1.0
    load = tokens_all * mlp.top_k / lay.ep * imbalance
    # Experts that see at least one token this step (weights are read only for them).
    touched = experts_local * (1.0 - (1.0 - mlp.top_k / mlp.num_experts) ** np.maximum(tokens_all, 1.0))
    width = mlp.intermediate_size / lay.moe_tp
    up_mats = 2 if mlp.gated else 1
    rows = np.maximum(pairs_per_expert, 1.0)

    def grouped(name: str, n: float, k: float) -> Op:
        # One grouped GEMM over the local experts: the weights of the touched experts, the routed rows.
        wb, fmt = t.precision.moe_weight_bytes, t.precision.moe_gemm_format
        traffic = touched * n * k * wb + load * (n + k) * ACT_BYTES
        return Op(name, "gemm", 2.0 * load * n * k, traffic, fmt, rows, count, k=k, weight_only=is_weight_only(wb, fmt))

    ops = [
        _gemm("moe.router", shape.tokens, mlp.num_experts, h, ACT_BYTES, "bf16", count),
        grouped("moe.experts", up_mats * width, float(h)),
        # The experts' activation kernel between their two grouped GEMMs, as in dense_mlp_ops.
        Op(
            "moe.act",
            "memory",
            4.0 * load * width,
            load * width * (up_mats + 1) * ACT_BYTES,
            count=count,
        ),
        grouped("moe.experts_down", float(h), width),
    ]
    if mlp.num_shared_experts and mlp.shared_intermediate_size:
        ops += dense_mlp_ops(mlp.shared_intermediate_size, mlp.gated, h, t, shape.tokens, count, "moe.shared")
    if lay.ep > 1:
        ops += _ep_comm_ops(mlp, h, t, shape, count)
    return ops


def _ep_comm_ops(mlp: MLPSpec, h: int, t: Target, shape: StepShape, count: float) -> list[Op]:
    """DeepEP-style dispatch (FP8 payload where the chip has FP8) and combine (BF16), per device.

    DeepEP (deepseek-ai/DeepEP README): prefill uses the normal kernels, which send one RDMA copy per
    destination node and forward over NVLink; decode uses the low-latency kernels, one copy per expert.
    The exchange ends when the busiest device has received its tokens, so the bytes carry the same
    expert-load imbalance as the expert GEMMs.
    """
    send_tokens = shape.tokens / t.layout.tp * t.moe_imbalance
    dispatch_bytes = 1.0 if t.precision.moe_gemm_format not in ("bf16", "fp16") else ACT_BYTES
    payload = send_tokens * mlp.top_k * h
    dedup = shape.phase == "prefill"
    ep, k = t.layout.ep, float(mlp.top_k)
    return [
        Op("moe.dispatch", "comm", 0.0, payload * dispatch_bytes, count=count, collective="all_to_all",
           group=ep, copies=k, dedup_by_domain=dedup),
        Op("moe.combine", "comm", 0.0, payload * ACT_BYTES, count=count, collective="all_to_all",
           group=ep, copies=k, dedup_by_domain=dedup),
    ]  # fmt: skip


def layer_ops(layer: LayerSpec, t: Target, shape: StepShape, count: float) -> list[Op]:
    h, att, mlp = t.model.hidden_size, layer.attention, layer.mlp
    builders = {"gqa": gqa_ops, "mla": mla_ops, "linear": linear_attention_ops}
    ops = builders[att.kind](att, h, t, shape, count)
    T = shape.tokens
    ops.append(Op("norm_residual_rope", "memory", 10.0 * T * h, 8.0 * T * h * ACT_BYTES, count=count))
    if mlp.kind == "moe":
        ops += moe_ops(mlp, h, t, shape, count)
    else:
        ops += dense_mlp_ops(mlp.intermediate_size, mlp.gated, h, t, T, count, "mlp")
    if t.layout.tp > 1:
        ops.append(
            Op(
                "tp.all_reduce",
                "comm",
                0.0,
                T * h * ACT_BYTES,
                count=2 * count,
                collective="all_reduce",
                group=t.layout.tp,
            )
        )
    return ops


def head_ops(t: Target, shape: StepShape, stage_share: float) -> list[Op]:
    """Embedding lookup and LM head (prefill: the last token of each sequence only)."""
    h, vocab = t.model.hidden_size, t.model.vocab_size
    lm_tokens = shape.sequences if shape.phase == "prefill" else shape.tokens
    return [
        Op("embedding", "memory", 0.0, shape.tokens * h * ACT_BYTES * 2, count=stage_share),
        _gemm("lm_head", lm_tokens, vocab / t.layout.tp, h, ACT_BYTES, "bf16", stage_share),
    ]


def mtp_ops(t: Target, shape: StepShape) -> list[Op]:
    """Draft passes of DeepSeek MTP modules: each one decoder layer + a 2h->h projection + LM head,
    run sequentially per draft token on one token per sequence."""
    d = t.speculation.draft_tokens
    if d == 0 or shape.phase != "decode":
        return []
    draft_shape = StepShape("decode", shape.sequences, 1.0, shape.context, shape.context_spread)
    h = t.model.hidden_size
    ops = layer_ops(t.model.layers[-1], t, draft_shape, float(d))
    ops.append(
        _gemm("mtp.eh_proj", shape.sequences, h, 2 * h, t.precision.weight_bytes, t.precision.gemm_format, float(d))
    )
    ops += head_ops(t, draft_shape, float(d))
    return [
        Op(f"mtp.{op.name}", op.kind, op.flops, op.bytes, op.fmt, op.m, op.count, op.collective, op.group) for op in ops
    ]


def step_ops(t: Target, shape: StepShape) -> list[Op]:
    """All ops of one forward step on one device of one pipeline stage."""
    pp = t.layout.pp
    ops: list[Op] = []
    for layer, n in t.model.layer_groups():
        ops += layer_ops(layer, t, shape, n / pp)
    ops += head_ops(t, shape, 1.0 / pp if pp > 1 else 1.0)
    ops += mtp_ops(t, shape)
    if pp > 1:
        ops.append(
            # group: the instance's devices, so the cost knows whether stages sit in one scale-up domain.
            Op(
                "pp.send_recv",
                "comm",
                0.0,
                shape.tokens * t.model.hidden_size * ACT_BYTES,
                collective="p2p",
                group=t.layout.chips * t.devices_per_chip,
            )
        )
    return ops

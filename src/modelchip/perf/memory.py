"""Memory per device: weights after sharding, KV cache per sequence, runtime reserve, and what fits.

Weights: attention, dense MLP and shared experts are sharded over tp and replicated over attention-dp
ranks; routed experts are spread over ep devices (at least one expert each: redundant copies fill
devices when ep > experts, as in DeepSeek's EP320 on CloudMatrix384) and sharded over moe_tp.
Embeddings stay BF16 (FP8 checkpoints keep them unquantised). Pipeline stages split the layers.
KV: GQA caches K and V per KV head (sharded over tp, replicated when tp > KV heads); MLA caches one
latent of kv_lora_rank + qk_rope_head_dim per token, replicated over tp (DeepSeek-V2 sec. 2.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.errors import UserError
from modelchip.models.params import count_params
from modelchip.models.schema import LayerSpec
from modelchip.perf.target import Target

RESERVE_FRACTION = 0.08  # activations, CUDA graphs, allocator slack (engines default to 0.9 utilisation)
RESERVE_MIN_BYTES = 3e9


@dataclass(frozen=True)
class MemoryPlan:
    hbm_bytes: float
    """per device."""
    weight_bytes: float
    reserve_bytes: float
    kv_budget_bytes: float
    kv_bytes_per_sequence: float
    """at the planned context length, on each device of an attention rank."""
    max_sequences_per_rank: float
    context: float

    @property
    def fits(self) -> bool:
        return self.kv_budget_bytes > 0


def weight_bytes_per_device(t: Target) -> float:
    lay, prec, model = t.layout, t.precision, t.model
    counts = count_params(model, include_mtp=True)
    # An MTP module is one decoder layer shaped like the last one: its routed experts spread over ep.
    uses_mtp = t.speculation.draft_tokens > 0
    mtp_routed = _routed_params(model.layers[-1], model.hidden_size) * model.mtp_layers if uses_mtp else 0.0
    mtp_rest = max(counts.mtp - mtp_routed, 0.0) if uses_mtp else 0.0
    shared = (counts.attention + counts.mlp_dense + counts.experts_shared + counts.other + mtp_rest) / lay.tp
    embed = counts.embedding / lay.tp * 2.0
    routed = 0.0
    experts = max((layer.mlp.num_experts for layer in model.layers), default=0)
    if counts.experts_routed and experts:
        per_expert = (counts.experts_routed + mtp_routed) / experts
        routed = per_expert * max(experts / lay.ep, 1.0) / lay.moe_tp * prec.moe_weight_bytes
    return (shared * prec.weight_bytes + routed) / lay.pp + embed / (1 if lay.pp == 1 else lay.pp)


def _routed_params(layer: LayerSpec, hidden: int) -> float:
    """Routed-expert parameters of one layer (gate/up/down of every expert)."""
    mlp = layer.mlp
    if mlp.kind != "moe":
        return 0.0
    return float(mlp.num_experts * (3 if mlp.gated else 2) * mlp.intermediate_size * hidden)


def _layer_kv_bytes(layer: LayerSpec, t: Target, context: float) -> float:
    att, tp, kvb = layer.attention, t.layout.tp, t.precision.kv_bytes
    if att.kind == "linear":
        heads = att.linear_value_heads / tp
        return heads * att.linear_key_head_dim * att.linear_value_head_dim * 4.0
    tokens = min(context, att.sliding_window) if att.sliding_window else context
    if att.kind == "mla":
        per_token = (att.kv_lora_rank + att.qk_rope_head_dim) * kvb + att.indexer_head_dim * 1.0
    else:
        per_token = max(1.0, att.num_kv_heads / tp) * (att.head_dim + att.v_head_dim) * kvb
    return tokens * per_token


def kv_bytes_per_sequence(t: Target, context: float) -> float:
    """KV cache (and linear-attention state) of one sequence on one device of its attention rank."""
    total = sum(_layer_kv_bytes(layer, t, context) * n for layer, n in t.model.layer_groups())
    return total / t.layout.pp


def memory_plan(t: Target, context: float) -> MemoryPlan:
    hbm = t.chip.memory.capacity_bytes.value / t.devices_per_chip
    weights = weight_bytes_per_device(t)
    reserve = max(RESERVE_FRACTION * hbm, RESERVE_MIN_BYTES / t.devices_per_chip)
    budget = hbm - weights - reserve
    per_seq = kv_bytes_per_sequence(t, max(context, 1.0))
    max_seq = max(budget, 0.0) / per_seq if per_seq > 0 else float("inf")
    return MemoryPlan(hbm, weights, reserve, budget, per_seq, max_seq, context)


def require_fit(t: Target, plan: MemoryPlan) -> None:
    """A one-line error with the numbers when the weights alone do not fit."""
    if plan.fits:
        return
    gb = 1e9
    need = plan.weight_bytes + plan.reserve_bytes
    raise UserError(
        f"{t.model.id} does not fit on {t.chip.id} with {t.layout.describe()}: {need / gb:.1f} GB of weights and "
        f"reserve per device vs {plan.hbm_bytes / gb:.1f} GB HBM (short by {(need - plan.hbm_bytes) / gb:.1f} GB); "
        "use more chips (tp/ep/pp) or a smaller precision"
    )


DEFAULT_NIC_BYTES_PER_S = 50e9  # 400 Gb/s, the common scale-out NIC (hardware.md)
DEFAULT_NIC_LATENCY_S = 46e-6  # kernels.md 4.4


def kv_transfer_s(t: Target, context: float) -> float:
    """KV cache of one sequence moved to another instance (P/D disaggregation): each chip sends its own
    shard over its own scale-out NIC, in parallel with the other chips of the instance."""
    bw, latency = DEFAULT_NIC_BYTES_PER_S, DEFAULT_NIC_LATENCY_S
    if t.system is not None and t.system.scale_out is not None:
        bw = t.system.scale_out.bandwidth_bytes_per_s_per_direction_per_chip.value
        latency = t.system.scale_out.latency_s.value
    elif t.chip.scale_out is not None:
        bw = t.chip.scale_out.bandwidth_bytes_per_s_per_direction.value
    return latency + kv_bytes_per_sequence(t, context) * t.devices_per_chip / bw

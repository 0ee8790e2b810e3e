"""`ModelSpec`: the architecture of an LLM, normalised from its Hugging Face `config.json`.

Only what serving cost depends on is kept: shapes of every layer's attention and MLP, MoE routing,
MTP layers and the checkpoint's native number format. Frozen dataclasses, built by `models.hf`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

AttentionKind = Literal["gqa", "mla", "linear"]
"""gqa: MHA/GQA/MQA softmax attention; mla: DeepSeek multi-head latent attention;
linear: linear-attention / state-space layer with a fixed-size state (Gated DeltaNet, Lightning, ...)."""


@dataclass(frozen=True)
class AttentionSpec:
    kind: AttentionKind
    num_heads: int
    num_kv_heads: int
    head_dim: int
    """q/k head size (for MLA: qk_nope_head_dim + qk_rope_head_dim)."""
    v_head_dim: int
    sliding_window: int | None = None
    """tokens a query attends back (None: full context)."""
    attention_bias: bool = False
    output_gate: bool = False
    """sigmoid gate on the attention output (Qwen3-Next/3.5 gated attention): q_proj is 2x wide."""
    # MLA (DeepSeek-V2/V3, Kimi K2, GLM-5 ...): KV cache holds kv_lora_rank + qk_rope_head_dim per token.
    q_lora_rank: int | None = None
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    # Sparse attention (DeepSeek DSA): a lightning indexer picks `sparse_topk` tokens per query.
    sparse_topk: int | None = None
    indexer_heads: int = 0
    indexer_head_dim: int = 0
    # Linear attention: per-sequence recurrent state instead of a KV cache.
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 0


@dataclass(frozen=True)
class MLPSpec:
    kind: Literal["dense", "moe"]
    intermediate_size: int
    """dense: FFN width; moe: width of one routed expert."""
    gated: bool = True
    """SwiGLU-style (gate, up, down: 3 matrices) vs plain (up, down: 2)."""
    num_experts: int = 0
    top_k: int = 0
    num_shared_experts: int = 0
    shared_intermediate_size: int = 0
    """total width of the shared expert(s) (0 if none)."""
    mlp_bias: bool = False


@dataclass(frozen=True)
class LayerSpec:
    attention: AttentionSpec
    mlp: MLPSpec


@dataclass(frozen=True)
class ModelSpec:
    id: str
    """Hugging Face repo id (org/name) or the file path it came from."""
    architecture: str
    """`architectures[0]` of the config."""
    hidden_size: int
    vocab_size: int
    layers: tuple[LayerSpec, ...]
    mtp_layers: int = 0
    """DeepSeek-style multi-token-prediction modules (each: one decoder layer + a 2h x h projection)."""
    tie_word_embeddings: bool = False
    native_weight_format: str = "bf16"
    """checkpoint format: bf16, fp8 (block-scaled), mxfp4, ... from `quantization_config`."""
    weight_block_size: tuple[int, int] | None = None
    max_context: int = 4096
    notes: tuple[str, ...] = ()

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def layer_groups(self) -> list[tuple[LayerSpec, int]]:
        """Distinct layer shapes with how many layers have each (order of first appearance)."""
        return list(self._layer_groups)

    @cached_property
    def _layer_groups(self) -> tuple[tuple[LayerSpec, int], ...]:
        # Computed once per spec: the planner's inner loop asks for it for every candidate.
        counts = Counter(self.layers)
        seen: dict[LayerSpec, int] = {}
        for layer in self.layers:
            seen.setdefault(layer, counts[layer])
        return tuple(seen.items())

    @property
    def is_moe(self) -> bool:
        return any(layer.mlp.kind == "moe" for layer in self.layers)

"""LLM architectures: Hugging Face `config.json` -> `ModelSpec`, parameter counts and cache sizes."""

from modelchip.models.hf import ARCHITECTURES, bundled_config, list_models, load_model
from modelchip.models.params import (
    ParamCounts,
    count_params,
    kv_cache_bytes,
    kv_cache_bytes_per_token,
    linear_state_bytes_per_sequence,
    weight_bytes,
)
from modelchip.models.schema import AttentionSpec, LayerSpec, MLPSpec, ModelSpec

__all__ = [
    "ARCHITECTURES",
    "AttentionSpec",
    "LayerSpec",
    "MLPSpec",
    "ModelSpec",
    "ParamCounts",
    "bundled_config",
    "count_params",
    "kv_cache_bytes",
    "kv_cache_bytes_per_token",
    "linear_state_bytes_per_sequence",
    "list_models",
    "load_model",
    "weight_bytes",
]

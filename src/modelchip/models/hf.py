"""Hugging Face `config.json` -> `ModelSpec`: the architecture table and the loaders.

`ARCHITECTURES` maps `architectures[0]` to a normaliser (DESIGN rule 5); `EXAMPLES` names the vendored
config that exercises each entry (a test loads every one). Configs are read as data: no
`trust_remote_code`, no network, no dispatch on substrings of a name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from modelchip.errors import UserError, unknown_id
from modelchip.fileio import read_structured
from modelchip.models import hf_families as fam
from modelchip.models.hf_fields import ConfigFieldError
from modelchip.models.schema import ModelSpec

Normaliser = Callable[[dict[str, Any], str], ModelSpec]

ARCHITECTURES: dict[str, Normaliser] = {
    "LlamaForCausalLM": fam.llama,
    "Qwen3ForCausalLM": fam.llama,
    "Qwen2ForCausalLM": fam.qwen2,
    "MixtralForCausalLM": fam.mixtral,
    "Qwen3MoeForCausalLM": fam.qwen_moe,
    "DeepseekV3ForCausalLM": fam.deepseek,
    "DeepseekV32ForCausalLM": fam.deepseek,
    "GlmMoeDsaForCausalLM": fam.deepseek,
    "KimiK25ForConditionalGeneration": fam.kimi_k25,
    "Llama4ForConditionalGeneration": fam.llama4,
    "GptOssForCausalLM": fam.gpt_oss,
    "Qwen3_5ForConditionalGeneration": fam.qwen3_5,
    "Qwen3_5MoeForConditionalGeneration": fam.qwen3_5,
    "MiniMaxM2ForCausalLM": fam.minimax_m2,
    "MiMoV2FlashForCausalLM": fam.mimo_v2_flash,
    "Step3p7FlashForCausalLM": fam.step3p7,
    "Gemma4ForConditionalGeneration": fam.gemma4,
}
"""`architectures[0]` -> normaliser(config dict, model id)."""

EXAMPLES: dict[str, str] = {
    "LlamaForCausalLM": "meta-llama/Meta-Llama-3.1-8B",
    "Qwen3ForCausalLM": "Qwen/Qwen3-8B",
    "Qwen2ForCausalLM": "Qwen/Qwen2.5-72B-Instruct",
    "MixtralForCausalLM": "mistralai/Mixtral-8x7B-v0.1",
    "Qwen3MoeForCausalLM": "Qwen/Qwen3-30B-A3B",
    "DeepseekV3ForCausalLM": "deepseek-ai/DeepSeek-V3",
    "DeepseekV32ForCausalLM": "deepseek-ai/DeepSeek-V3.2",
    "GlmMoeDsaForCausalLM": "zai-org/GLM-5",
    "KimiK25ForConditionalGeneration": "moonshotai/Kimi-K2.5",
    "Llama4ForConditionalGeneration": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "GptOssForCausalLM": "openai/gpt-oss-20b",
    "Qwen3_5ForConditionalGeneration": "Qwen/Qwen3.5-27B",
    "Qwen3_5MoeForConditionalGeneration": "Qwen/Qwen3.5-397B-A17B",
    "MiniMaxM2ForCausalLM": "MiniMaxAI/MiniMax-M2.5",
    "MiMoV2FlashForCausalLM": "XiaomiMiMo/MiMo-V2-Flash",
    "Step3p7FlashForCausalLM": "stepfun-ai/Step-3.7-Flash",
    "Gemma4ForConditionalGeneration": "google/gemma-4-26B-A4B",
}
"""A vendored config per architecture entry (tested to load)."""

_SUFFIX = "_config.json"


def _data_dir() -> Path:
    return Path(__file__).with_name("data")


@lru_cache(maxsize=1)
def _bundled_files() -> dict[str, Path]:
    """Bundled repo id ('org/name', from the file name `org--name_config.json`) -> file."""
    files = sorted(_data_dir().glob(f"*{_SUFFIX}"))
    return {p.name[: -len(_SUFFIX)].replace("--", "/", 1): p for p in files}


def list_models() -> list[str]:
    """The bundled model ids (Hugging Face repo ids), sorted."""
    return sorted(_bundled_files(), key=str.lower)


def _resolve_bundled(repo_id: str) -> tuple[str, Path] | None:
    by_lower = {k.lower(): k for k in _bundled_files()}
    key = by_lower.get(repo_id.strip().lower())
    return (key, _bundled_files()[key]) if key else None


def bundled_config(repo_id: str) -> dict[str, Any]:
    """The vendored `config.json` of a bundled model (case-insensitive repo id)."""
    hit = _resolve_bundled(repo_id)
    if hit is None:
        raise _unknown_model(repo_id)
    return _read_config(hit[1])


def _unknown_model(name: str) -> UserError:
    return unknown_id(
        "model",
        name,
        list_models(),
        "give a bundled repo id (`modelchip models list`) or a path to a config.json",
    )


def _read_config(path: Path) -> dict[str, Any]:
    data = read_structured(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object (a Hugging Face config.json); fix the file")
    return data


def _config_path(id_or_path: str) -> Path | None:
    """A config.json file given directly or inside a directory; None if `id_or_path` is no path."""
    path = Path(id_or_path).expanduser()
    if path.is_dir():
        inner = path / "config.json"
        if not inner.is_file():
            raise UserError(f"{path}: directory has no config.json; pass the file or a model directory")
        return inner
    if path.is_file():
        return path
    if path.suffix.lower() == ".json":
        raise UserError(f"{path}: file not found; check the path")
    return None


def load_model(id_or_path: str) -> ModelSpec:
    """A bundled repo id (case-insensitive, e.g. 'deepseek-ai/DeepSeek-R1'), a config.json path, or a
    directory holding config.json -> `ModelSpec`. Errors are one-line `UserError`s naming the file."""
    path = _config_path(id_or_path)
    if path is not None:
        return normalise(_read_config(path), str(path), str(path))
    hit = _resolve_bundled(id_or_path)
    if hit is None:
        raise _unknown_model(id_or_path)
    return _load_bundled(hit[0])


@cache
def _load_bundled(repo_id: str) -> ModelSpec:
    path = _bundled_files()[repo_id]
    return normalise(_read_config(path), repo_id, str(path))


def normalise(config: dict[str, Any], model_id: str, origin: str) -> ModelSpec:
    """Dispatch on `architectures[0]`; `origin` (the file) prefixes any field error."""
    archs = config.get("architectures")
    if archs is None:
        raise UserError(f"{origin}: field 'architectures' is missing; add e.g. [\"LlamaForCausalLM\"]")
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise UserError(f"{origin}: field 'architectures' must be a non-empty list of class names; fix it")
    normaliser = ARCHITECTURES.get(archs[0])
    if normaliser is None:
        supported = ", ".join(sorted(ARCHITECTURES))
        raise UserError(
            f"{origin}: architecture '{archs[0]}' is not supported; supported: {supported} "
            "(add a normaliser to modelchip.models.hf.ARCHITECTURES)"
        )
    try:
        return normaliser(config, model_id)
    except ConfigFieldError as exc:
        raise UserError(f"{origin}: {exc}") from exc

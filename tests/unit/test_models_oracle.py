"""Independent oracle for parameter counts: build each bundled config's language model with
transformers on the meta device (no memory, no weights, no network, no remote code) and compare
sum(p.numel()) with `count_params(...).total`. transformers drops MTP modules, so MTP is excluded."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import pytest

from modelchip.models import bundled_config, count_params, list_models, load_model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.oracle

# Keys that must not reach the transformers config: remote-code pointers and checkpoint quantisation.
_DROP = {"auto_map", "quantization_config", "architectures", "model_type"}

# Configs that ship as a flat text-model config under a wrapper's model_type: (module, config class,
# base text-model class). The LM head (untied) is added by hand.
_TEXT_MODELS: dict[str, tuple[str, str, str]] = {
    "Step3p7FlashForCausalLM": (
        "transformers.models.step3p7.modeling_step3p7",
        "Step3p7TextConfig",
        "Step3p7TextModel",
    ),
}

# Known, documented gaps between our count and transformers' modules (relative, of the total).
_TOLERANCE = 0.01


def _clean(config: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in config.items() if k not in _DROP}
    if isinstance(kwargs.get("text_config"), dict):
        kwargs["text_config"] = {k: v for k, v in kwargs["text_config"].items() if k not in _DROP - {"model_type"}}
    return kwargs


def _numel(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _flat_text_model(architecture: str, config: dict[str, Any]) -> int:
    module_name, config_cls, model_cls = _TEXT_MODELS[architecture]
    module = importlib.import_module(module_name)
    text = getattr(module, config_cls)(**_clean(config))
    with torch.device("meta"):
        model = getattr(module, model_cls)(text)
    head = 0 if text.tie_word_embeddings else text.vocab_size * text.hidden_size
    return _numel(model) + head


def _transformers_params(config: dict[str, Any]) -> int:
    """Parameters of the causal LM transformers builds for `config`; skips what it cannot build."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    architecture = config["architectures"][0]
    model_type = config.get("model_type", "")
    if architecture in _TEXT_MODELS:
        return _flat_text_model(architecture, config)
    if model_type in CONFIG_MAPPING:
        text = AutoConfig.for_model(model_type, **_clean(config)).get_text_config()
        auto: Any = AutoModelForCausalLM  # untyped in transformers
        with torch.device("meta"):
            return _numel(auto.from_config(text))
    built_in = getattr(transformers, architecture, None)
    if built_in is not None and getattr(built_in, "config_class", None) is not None:
        # model_type unknown to transformers but the class is built in (e.g. Kimi-K2 = DeepseekV3ForCausalLM)
        with torch.device("meta"):
            return _numel(built_in(built_in.config_class(**_clean(config))))
    pytest.skip(
        f"transformers {transformers.__version__} has neither model_type '{model_type}' nor {architecture} "
        "(the Hub config needs remote code)"
    )


@pytest.mark.parametrize("model_id", list_models())
def test_param_count_matches_transformers(model_id: str) -> None:
    config = bundled_config(model_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transformers.logging.set_verbosity_error()
        try:
            reference = _transformers_params(config)
        except (ValueError, KeyError, TypeError, ImportError, AttributeError) as exc:
            pytest.skip(f"transformers {transformers.__version__} cannot build {model_id}: {exc}"[:300])
    ours = count_params(load_model(model_id)).total
    assert ours == pytest.approx(reference, rel=_TOLERANCE), f"ours {ours:,} vs transformers {reference:,}"

"""Every catalog chip x a few models predicts without error (or says clearly that it does not fit)."""

from __future__ import annotations

import math

import pytest

from modelchip.catalog import load_catalog
from modelchip.deploy.layout import Layout
from modelchip.errors import UserError
from modelchip.perf.predict import PredictRequest, predict

CHIPS = sorted(load_catalog().chips)
MODELS = [
    ("meta-llama/Meta-Llama-3.1-8B", Layout()),
    ("Qwen/Qwen3-30B-A3B", Layout(tp=2, ep=2)),
    ("openai/gpt-oss-120b", Layout(tp=4)),
    ("deepseek-ai/DeepSeek-V3", Layout(dp=16, ep=16)),
]


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize(("model", "layout"), MODELS, ids=[m for m, _ in MODELS])
def test_chip_model_predicts(chip: str, model: str, layout: Layout) -> None:
    try:
        p = predict(PredictRequest(model, chip, layout=layout, batch=32, isl=1024, osl=256))
    except UserError as exc:
        # The only acceptable refusal is a clear "does not fit" with the numbers.
        assert "does not fit" in str(exc) and "GB" in str(exc)
        return
    for value in (p.ttft_s, p.tpot_s, p.output_tokens_per_s_per_chip, p.energy.joules_per_token):
        assert math.isfinite(value) and value > 0
    assert p.memory.weight_bytes < p.memory.hbm_bytes

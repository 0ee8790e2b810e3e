"""Named workloads: typical input and output lengths per use case, each with its source.

The lengths are token counts per request (ISL = input sequence length, OSL = output sequence length).
They are representative means used to compare deployments on the same work, not a claim about any one
service; pass a trace or distribution for a specific service.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelchip.errors import UserError


@dataclass(frozen=True)
class WorkloadPreset:
    """A named request shape: mean input tokens `isl`, mean output tokens `osl`."""

    name: str
    isl: int
    osl: int
    description: str
    source: str


PRESETS: dict[str, WorkloadPreset] = {
    "chat": WorkloadPreset(
        name="chat",
        isl=1024,
        osl=300,
        description="conversational assistant: ~1k-token prompt with history, a few-hundred-token reply",
        source=(
            "Azure LLM inference trace 2023, conversation: median prompt ~1020 tokens "
            "(Patel et al., Splitwise, ISCA 2024); ~300-token replies as in ShareGPT-style serving benchmarks"
        ),
    ),
    "reasoning": WorkloadPreset(
        name="reasoning",
        isl=1024,
        osl=4096,
        description="reasoning model (R1-style): short prompt, long chain-of-thought output",
        source=(
            "SemiAnalysis InferenceMAX reasoning scenarios (1k in / 4k-8k out); DeepSeek-R1 reports "
            "thousands of thinking tokens per answer (DeepSeek-AI, arXiv:2501.12948)"
        ),
    ),
    "rag": WorkloadPreset(
        name="rag",
        isl=8192,
        osl=512,
        description="retrieval-augmented / long-context: ~8k-token prompt of retrieved passages, short answer",
        source="SemiAnalysis InferenceMAX 8k-in scenario; NVIDIA NIM LLM benchmarking guide (summarisation/RAG 8k in)",
    ),
    "code": WorkloadPreset(
        name="code",
        isl=1500,
        osl=13,
        description="code completion (IDE assistant): ~1.5k-token context, a short completion; prefill-bound",
        source=(
            "Azure LLM inference trace 2023, coding: median prompt 1500, median output 13 tokens "
            "(Patel et al., Splitwise, ISCA 2024)"
        ),
    ),
}


def get_preset(name: str) -> WorkloadPreset:
    """The preset called `name`; an unknown name lists the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown workload preset '{name}'; presets: {', '.join(sorted(PRESETS))}") from None

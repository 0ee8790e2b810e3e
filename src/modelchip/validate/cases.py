"""Validation cases: published, measured serving results, typed and validated at the boundary.

The file format is `shared/validation/SCHEMA.md` (YAML or JSON; a top-level list or a mapping with a
`cases` list). Every model keeps unknown fields (`extra="allow"`, reachable through `model_extra`) and
ignores them, so transcriptions may carry provenance such as `row`, `source_value` or `division`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelchip.errors import UserError
from modelchip.fileio import describe_validation_error, read_structured

PrecisionName = Literal["bf16", "fp16", "fp8", "int8", "int4", "mxfp8", "mxfp4", "nvfp4", "fp8-ue8m0"]
PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "int4", "mxfp8", "mxfp4", "nvfp4", "fp8-ue8m0")
Mode = Literal["aggregated", "prefill", "decode", "disaggregated"]
Trust = Literal["mlperf", "operator", "paper", "vendor", "engine-blog", "dashboard", "user"]
Scenario = Literal["closed_loop", "offline", "poisson"]


class Metric(StrEnum):
    """What a case measured (SCHEMA.md, "Metrics")."""

    TTFT_MS = "ttft_ms"
    TPOT_MS = "tpot_ms"
    OUTPUT_TOKENS_PER_S = "output_tokens_per_s"
    OUTPUT_TOKENS_PER_S_PER_CHIP = "output_tokens_per_s_per_chip"
    PREFILL_TOKENS_PER_S_PER_CHIP = "prefill_tokens_per_s_per_chip"
    DECODE_TOKENS_PER_S_PER_CHIP = "decode_tokens_per_s_per_chip"
    TOKENS_PER_S_PER_USER = "tokens_per_s_per_user"


METRICS: tuple[str, ...] = tuple(m.value for m in Metric)


class Unsupported(Exception):
    """Raised by a predictor for a case it cannot handle; `reason` says why (shown in the report)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Open(BaseModel):
    """Frozen; unknown fields are kept and ignored."""

    model_config = ConfigDict(frozen=True, extra="allow")


# Activations of a shorthand: the format itself, except int4, whose GPTQ/AWQ kernels run W4A16
# (no current accelerator has int4 matrix units that serving engines use).
_SHORTHAND_ACTIVATIONS = {"int4": "bf16"}
# KV cache of a shorthand: 8-bit float checkpoints (ModelOpt/TRT-LLM FP8, MLPerf submissions) quantise
# the KV cache to FP8 with the same recipe; everything else keeps a 16-bit cache unless stated.
# NVFP4 checkpoints (NVIDIA ModelOpt) ship an FP8 KV cache, which TensorRT-LLM takes from hf_quant_config.json.
_SHORTHAND_KV = {"fp8": "fp8", "fp8-ue8m0": "fp8", "mxfp8": "fp8", "fp16": "fp16", "nvfp4": "fp8"}


def expand_precision(name: str) -> dict[str, str]:
    """The full precision a shorthand stands for.

    Shorthand X means: weights = X and moe = X; activations = X, except int4 -> bf16 (W4A16);
    kv_cache = fp8 for the 8-bit float formats (fp8, fp8-ue8m0, mxfp8) and for nvfp4 (NVIDIA's NVFP4
    checkpoints carry an FP8 KV cache), fp16 for fp16, else bf16. So "fp8" is W8A8 with an FP8 KV
    cache, "nvfp4" is W4A4 (FP4 tensor cores) with an FP8 KV cache, "mxfp4" W4A4 with a BF16 KV
    cache, "int8" is W8A8 with a BF16 KV cache, "int4" is W4A16 with a BF16 KV cache. A mapping
    spells out what differs, e.g. {weights: mxfp4, activations: bf16} for gpt-oss style W4A16.
    """
    return {
        "weights": name,
        "activations": _SHORTHAND_ACTIVATIONS.get(name, name),
        "kv_cache": _SHORTHAND_KV.get(name, "bf16"),
        "moe": name,
    }


class Precision(_Open):
    """Number formats of a deployment. Given as a shorthand string or a mapping.

    In a mapping only `weights` is required; each missing field takes its value from the shorthand
    of `weights` (see `expand_precision`): {weights: nvfp4, kv_cache: fp8} has nvfp4 activations and
    MoE experts. `attention` (the format attention's matmuls run in) stays None unless stated.
    """

    weights: PrecisionName = Field(description="dense (non-expert) weights")
    activations: PrecisionName = Field(description="matmul inputs other than weights")
    kv_cache: PrecisionName = Field(description="stored K/V (or MLA latent) cache")
    moe: PrecisionName = Field(description="routed-expert weights")
    attention: PrecisionName | None = Field(default=None, description="attention matmuls, if stated")

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data not in PRECISIONS:
                raise ValueError(f"unknown precision '{data}'; use one of: {', '.join(PRECISIONS)}")
            return expand_precision(data)
        if isinstance(data, dict) and data.get("weights") in PRECISIONS:
            return {**expand_precision(data["weights"]), **data}
        return data


class Parallel(_Open):
    """Parallel layout of one instance. dp = attention data parallel; ep counts devices (dies)."""

    tp: int = Field(default=1, ge=1, description="tensor parallel (chips)")
    pp: int = Field(default=1, ge=1, description="pipeline stages")
    dp: int = Field(default=1, ge=1, description="attention data parallel (chips)")
    ep: int = Field(default=1, ge=1, description="devices the experts are spread over (dies)")
    moe_tp: int = Field(default=1, ge=1, description="tensor parallel inside each expert")


class Workload(_Open):
    """Request lengths and load. Lengths are means, so they may be fractional."""

    isl: float = Field(gt=0, description="input tokens per request (mean)")
    osl: float | None = Field(default=None, gt=0, description="output tokens per request (mean)")
    concurrency: int | None = Field(default=None, ge=1, description="closed loop: requests in flight")
    batch_per_chip: float | None = Field(default=None, gt=0, description="fixed running batch per chip")
    tokens_per_chip: float | None = Field(default=None, gt=0, description="prefill tokens/chip/pass")
    scenario: Scenario | None = None
    request_rate: float | None = Field(default=None, gt=0, description="requests/s (poisson)")
    prefix_cache_hit: float = Field(default=0.0, ge=0, le=1, description="input share from prefix cache")
    kv_len: float | None = Field(default=None, gt=0, description="decode pools: mean KV length")
    osl_cv: float | None = Field(
        default=None, ge=0, description="spread (std / mean) of output lengths; default: by the benchmark"
    )
    num_requests: int | None = Field(default=None, ge=1, description="requests the benchmark ran")


class Speculative(_Open):
    """Speculative decoding (MTP, EAGLE, draft model)."""

    method: str = Field(min_length=1)
    draft_tokens: int = Field(ge=1)
    acceptance: float | None = Field(default=None, ge=0, le=1, description="per-draft-token acceptance")
    accept_length: float | None = Field(default=None, ge=1, description="mean tokens emitted per step")


class Pool(_Open):
    """One pool of a disaggregated deployment: `workers` instances of one parallel layout."""

    workers: int = Field(ge=1)
    chips_per_worker: int = Field(ge=1)
    parallel: Parallel = Field(default_factory=Parallel)
    batch: int | None = Field(default=None, ge=1)


class Slo(_Open):
    """The latency limits a throughput was measured under (means, p99s, a per-user floor)."""

    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    ttft_ms_p99: float | None = Field(default=None, gt=0)
    tpot_ms_p99: float | None = Field(default=None, gt=0)
    tokens_per_s_per_user: float | None = Field(default=None, gt=0)


class Case(_Open):
    """One published measurement and the setup it was measured on (SCHEMA.md)."""

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    trust: Trust
    model: str = Field(min_length=1, description="Hugging Face repo id")
    hardware: str = Field(min_length=1, description="chip id")
    system: str | None = Field(default=None, description="system id the chips sit in")
    chips: int = Field(ge=1, description="physical chips the metric's deployment uses")
    instances: int = Field(default=1, ge=1, description="identical instances sharing the load")
    engine: str = Field(min_length=1)
    precision: Precision
    mode: Mode
    parallel: Parallel = Field(default_factory=Parallel)
    workload: Workload
    speculative: Speculative | None = None
    prefill: Pool | None = None
    decode: Pool | None = None
    metric: Metric
    value: float = Field(gt=0)
    slo: Slo | None = None
    notes: str = ""

    def setup_key(self) -> str:
        """The setup the measurement was taken on, without what was measured: cases of one run (its
        throughput, TTFT and TPOT) share it, and with it the simulations that answer them."""
        return self.model_dump_json(exclude={"id", "metric", "value", "notes", "source", "source_value"})

    @model_validator(mode="after")
    def _pools(self) -> Case:
        if self.mode == "disaggregated" and (self.prefill is None or self.decode is None):
            raise ValueError("mode 'disaggregated' needs a `prefill` and a `decode` pool; add both")
        return self


# ----------------------------------------------------------------------------------------- loading


def bundled_cases_path() -> Path:
    """The public case set shipped with the package (a copy of shared/validation/cases.yaml)."""
    return Path(str(resources.files("modelchip.validate") / "data" / "public_cases.yaml"))


def load_cases(paths: Sequence[Path] | None = None) -> list[Case]:
    """Read cases from YAML/JSON files (default: the bundled public set); ids must be unique."""
    files = list(paths) if paths else [bundled_cases_path()]
    cases: list[Case] = []
    seen: dict[str, Path] = {}
    for path in files:
        for case in _load_file(Path(path)):
            if case.id in seen:
                where = "earlier in the file" if seen[case.id] == path else f"also in {seen[case.id]}"
                raise UserError(f"{path}: case {case.id}: duplicate id ({where}); give each case a unique id")
            seen[case.id] = path
            cases.append(case)
    return cases


def _load_file(path: Path) -> list[Case]:
    raws = _raw_cases(read_structured(path), path)
    return [_parse_case(raw, i, path) for i, raw in enumerate(raws)]


def _raw_cases(data: Any, path: Path) -> list[Any]:
    if isinstance(data, dict):
        if "cases" not in data:
            raise UserError(f"{path}: a mapping at the top level needs a `cases` list; add `cases:`")
        data = data["cases"]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a list of cases (or a mapping with a `cases` list)")
    if not data:
        raise UserError(f"{path}: no cases found; add at least one case")
    return data


def _case_label(raw: Any, index: int) -> str:
    case_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(case_id, str) and case_id:
        return f"case {case_id}"
    return f"case #{index + 1} (no id)"


def _parse_case(raw: Any, index: int, path: Path) -> Case:
    label = _case_label(raw, index)
    if not isinstance(raw, dict):
        raise UserError(f"{path}: {label}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        return Case.model_validate(raw)
    except ValidationError as exc:
        raise UserError(f"{path}: {label}: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    """One line: the first problem, naming the field and the fix."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if loc == "metric" and err["type"] == "enum":
        return f"field 'metric': unknown metric {err.get('input')!r}; use one of: {', '.join(METRICS)}{more}"
    if err["type"] == "value_error":
        msg = str(err["msg"]).removeprefix("Value error, ")
        return f"field '{loc}': {msg}{more}" if loc else f"{msg}{more}"
    return describe_validation_error(exc) + more


# ----------------------------------------------------------------------------------------- filters

FILTER_KEYS: tuple[str, ...] = ("id", "hardware", "system", "model", "metric", "mode", "engine", "trust")


@dataclass(frozen=True)
class CaseFilter:
    """Conjunction of `key=pattern|pattern` terms; patterns are shell globs, case-insensitive."""

    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def matches(self, case: Case) -> bool:
        return all(_term_matches(_field_text(case, key), pats) for key, pats in self.terms)


def _field_text(case: Case, key: str) -> str:
    value = getattr(case, key)
    return "" if value is None else str(value).lower()


def _term_matches(text: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(text, p) for p in patterns)


def parse_filter(text: str) -> CaseFilter:
    """Parse "hardware=ascend-910c,metric=tpot_ms|ttft_ms"; a repeated key adds alternatives.

    Keys: id, hardware, system, model, metric, mode, engine, trust. Values may use `*` and `?` globs.
    An empty text matches every case.
    """
    merged: dict[str, list[str]] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not value:
            raise UserError(f"filter term '{part}': write it as key=value (e.g. hardware=h100-sxm)")
        if key not in FILTER_KEYS:
            raise UserError(f"filter key '{key}' is unknown; use one of: {', '.join(FILTER_KEYS)}")
        alternatives = [v.strip().lower() for v in value.split("|") if v.strip()]
        merged.setdefault(key, []).extend(alternatives)
    return CaseFilter(tuple((k, tuple(v)) for k, v in merged.items()))


def apply_filter(cases: Iterable[Case], case_filter: CaseFilter) -> list[Case]:
    """The cases the filter matches, in their original order."""
    return [c for c in cases if case_filter.matches(c)]

"""Typed, error-reporting access to the fields of a Hugging Face `config.json` dict.

Every read names the field (dotted from the top of the file, e.g. `text_config.hidden_size`) when it
is missing or has the wrong type, so `hf.load_model` can prefix the file and raise one clear line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelchip.errors import UserError


class ConfigFieldError(UserError):
    """A missing or malformed field of a config dict; `load_model` prefixes the file name."""


@dataclass(frozen=True)
class Fields:
    """A read-only view of one (possibly nested) config dict; `prefix` dots nested field names."""

    data: Mapping[str, Any]
    prefix: str = ""

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def _missing(self, key: str, what: str) -> ConfigFieldError:
        return ConfigFieldError(f"field '{self.name(key)}' is missing; add it ({what})")

    def _bad(self, key: str, what: str) -> ConfigFieldError:
        value = self.data.get(key)
        return ConfigFieldError(f"field '{self.name(key)}' must be {what} (got {value!r}); fix the value")

    def integer(self, key: str, default: int | None = None, *, positive: bool = True) -> int:
        """An integer field; `default` when absent (or an error naming the field if no default)."""
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise self._missing(key, "an integer")
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise self._bad(key, "an integer")
        if positive and value <= 0:
            raise self._bad(key, "a positive integer")
        if not positive and value < 0:
            raise self._bad(key, "a non-negative integer")
        return int(value)

    def opt_int(self, key: str) -> int | None:
        """An optional positive integer (None when absent or null)."""
        if not self.has(key):
            return None
        return self.integer(key, 0, positive=False) or None

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def text(self, key: str, default: str) -> str:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def items(self, key: str, length: int | None = None) -> list[Any] | None:
        """A list field (None when absent); `length` checks it has one entry per layer."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        if length is not None and len(value) != length:
            raise ConfigFieldError(
                f"field '{self.name(key)}' has {len(value)} entries but the model has {length} layers; "
                "give one entry per layer"
            )
        return value

    def int_list(self, key: str) -> list[int]:
        """A list of integers (empty when absent)."""
        values = self.items(key) or []
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise self._bad(key, "a list of integers")
        return [int(v) for v in values]

    def sub(self, key: str) -> Fields:
        """A nested dict such as `text_config` (an error naming it if missing)."""
        value = self.data.get(key)
        if value is None:
            raise self._missing(key, "a JSON object with the text model's fields")
        if not isinstance(value, Mapping):
            raise self._bad(key, "a JSON object")
        return Fields(value, f"{self.name(key)}.")

    def opt_sub(self, key: str) -> Fields | None:
        value = self.data.get(key)
        return Fields(value, f"{self.name(key)}.") if isinstance(value, Mapping) else None


_DTYPES = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "float": "fp32",
    "float8_e4m3fn": "fp8",
}


@dataclass(frozen=True)
class WeightFormat:
    """The checkpoint's native number format, from `quantization_config` or the dtype."""

    name: str
    block_size: tuple[int, int] | None = None
    note: str | None = None


def weight_format(f: Fields, outer: Fields | None = None) -> WeightFormat:
    """`quantization_config` (text config first, then the wrapper's) or else `torch_dtype`/`dtype`."""
    scopes = [s for s in (f, outer) if s is not None]
    for scope in scopes:
        quant = scope.opt_sub("quantization_config")
        if quant is not None:
            return _quantized_format(quant)
    for scope in scopes:
        for key in ("torch_dtype", "dtype"):
            if scope.has(key):
                dtype = scope.text(key, "bfloat16")
                return WeightFormat(_DTYPES.get(dtype, dtype))
    return WeightFormat("bf16")


def _quantized_format(q: Fields) -> WeightFormat:
    method = q.text("quant_method", "unknown").lower()
    skipped = q.items("modules_to_not_convert") or q.items("ignore")
    note = f"{method} weights except: {', '.join(map(str, skipped))}" if skipped else None
    if method == "fp8":
        block = q.int_list("weight_block_size")
        return WeightFormat("fp8", (block[0], block[1]) if len(block) == 2 else None, note)
    if method == "compressed-tensors":
        return WeightFormat(_compressed_tensors_format(q), None, note)
    if method in ("gptq", "awq"):
        return WeightFormat(f"int{q.integer('bits', 4)}", None, note)
    return WeightFormat(method, None, note)


def _compressed_tensors_format(q: Fields) -> str:
    """`config_groups.*.weights` {type, num_bits} -> e.g. int4, float8 -> fp8."""
    groups = q.opt_sub("config_groups")
    for key in groups.data if groups else ():
        weights = groups.sub(key).opt_sub("weights") if groups else None
        if weights is not None:
            kind = weights.text("type", "int")
            bits = weights.integer("num_bits", 8)
            return f"fp{bits}" if kind == "float" else f"{kind}{bits}"
    return "compressed-tensors"

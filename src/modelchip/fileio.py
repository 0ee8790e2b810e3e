"""Reading user-editable YAML/JSON files with errors that name the file, the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from modelchip.errors import UserError

M = TypeVar("M", bound=BaseModel)


def read_structured(path: Path) -> Any:
    """Parse a YAML or JSON file; a syntax error becomes a one-line `UserError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read file ({exc.strerror}); check the path") from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        where = _error_position(exc)
        raise UserError(
            f"{path}{where}: malformed {path.suffix.lstrip('.').upper() or 'YAML'}; fix the syntax"
        ) from exc


def _error_position(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f":{mark.line + 1}:{mark.column + 1}"
    lineno = getattr(exc, "lineno", None)
    return f":{lineno}" if lineno is not None else ""


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as 'field: message' with the field path dotted."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "missing":
        return f"field '{loc}' is missing; add it"
    if kind == "extra_forbidden":
        return f"field '{loc}' is not part of the schema; remove or rename it"
    return f"field '{loc}': {err['msg']} (got {err.get('input')!r}); fix the value"


def parse_model(model: type[M], data: Any, origin: str) -> M:
    """Validate `data` as `model`; errors name `origin` (file or case id) and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UserError(f"{origin}: {describe_validation_error(exc)}{more}") from exc

"""Shared CLI output: JSON to stdout, rich tables."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console()


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))

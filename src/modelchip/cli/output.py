"""Shared CLI output: JSON to stdout, rich tables."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped or logged output (not a terminal, no COLUMNS) is not bound to a window: rich's 80-column default
# would cut catalog and plan tables that a terminal of normal width shows whole.
PIPE_WIDTH = 160


def _console() -> Console:
    default = Console()
    if default.is_terminal or "COLUMNS" in os.environ:
        return default
    return Console(width=PIPE_WIDTH)


console = _console()

# Free-text columns (architectures, software stacks) give way to ids and numbers in narrow terminals;
# their full text is in `show` and in --json.
DETAIL_MAX_WIDTH = 24


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def add_id_column(table: Table, header: str, ids: Iterable[str]) -> None:
    """A column of ids that is never cut or wrapped: users copy them into --model / --hardware / --system."""
    width = max((len(i) for i in ids), default=0)
    table.add_column(header, no_wrap=True, min_width=max(width, len(header)))


def add_detail_column(table: Table, header: str) -> None:
    """A free-text column that wraps (and gives way) before any id or number does."""
    table.add_column(header, overflow="fold", max_width=DETAIL_MAX_WIDTH)


def add_number_column(table: Table, header: str) -> None:
    """A value with its unit, right-aligned."""
    table.add_column(header, justify="right")

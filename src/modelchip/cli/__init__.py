"""The `modelchip` command line (a leaf: nothing imports it)."""

from modelchip.cli.app import main

__all__ = ["main"]

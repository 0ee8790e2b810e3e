"""Deployments: parallel layout, precision plan and their validity rules."""

from modelchip.deploy.layout import Layout, complete_moe_layout, devices_per_chip, validate_layout
from modelchip.deploy.precision import FORMAT_BYTES, PrecisionPlan, resolve_precision

__all__ = [
    "FORMAT_BYTES",
    "Layout",
    "PrecisionPlan",
    "complete_moe_layout",
    "devices_per_chip",
    "resolve_precision",
    "validate_layout",
]

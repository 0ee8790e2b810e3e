"""CLI options shared by the commands that take one deployment (`predict`, `simulate`)."""

from __future__ import annotations

import typer

from modelchip.deploy.layout import Layout
from modelchip.errors import UserError

MODEL = typer.Option(..., "--model", help="bundled repo id or path to config.json")
HARDWARE = typer.Option(..., "--hardware", help="chip or system id")
SYSTEM = typer.Option(None, "--system", help="system id (default: the chip's smallest system)")
CHIPS = typer.Option(None, "--chips", help="chips per instance (checked against tp*pp*dp)")
TP = typer.Option(1, "--tp")
PP = typer.Option(1, "--pp")
DP = typer.Option(1, "--dp", help="attention data parallel")
EP = typer.Option(1, "--ep", help="expert parallel (devices; dies on multi-die chips)")
MOE_TP = typer.Option(1, "--moe-tp")
PRECISION = typer.Option(None, "--precision", help="weights format (default: the checkpoint's)")
KV_CACHE = typer.Option(None, "--kv-cache", help="KV-cache format")
ACTIVATIONS = typer.Option(None, "--activations", help="activation format (default: follows --precision)")
MOE_PRECISION = typer.Option(
    None, "--moe-precision", help="routed experts' format when it differs from --precision (e.g. nvfp4 experts)"
)
ATTENTION = typer.Option(
    None, "--attention", help="attention math format (default: fp8 with an FP8 KV cache, else bf16)"
)
ENGINE = typer.Option(None, "--engine", help="trtllm | trtllm-max-util | vllm | vllm-v0-multistep | sglang | ...")


def layout_option(chips: int | None, tp: int, pp: int, dp: int, ep: int, moe_tp: int) -> Layout:
    """The layout from the flags; `--chips`, when given, must equal tp x pp x dp."""
    layout = Layout(tp=tp, pp=pp, dp=dp, ep=ep, moe_tp=moe_tp)
    if chips is not None and chips != layout.chips:
        raise UserError(
            f"--chips {chips} but tp x pp x dp = {layout.chips}; set --dp {max(chips // (tp * pp), 1)} or fix --tp/--pp"
        )
    return layout

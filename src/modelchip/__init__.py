"""modelchip: plan LLM serving on NVIDIA, AMD and Chinese accelerators side by side."""

from modelchip.errors import UserError

__all__ = ["UserError", "__version__"]
__version__ = "0.1.0"

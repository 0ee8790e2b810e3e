"""Typed, frozen schema of the hardware catalog (one YAML file per chip and per system).

Units are SI and named in every field (rule 2 of DESIGN.md). Every number is a `Quantity` that carries
its source and a confidence letter: D datasheet, V vendor announcement, P press/analyst, E estimate
(formula in `note`), U unverified.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Confidence = Literal["D", "V", "P", "E", "U"]

NumberFormat = Literal[
    "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "mxfp8", "mxfp6", "mxfp4", "nvfp4", "hif8"
]
NUMBER_FORMATS: tuple[str, ...] = (
    "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "mxfp8", "mxfp6", "mxfp4", "nvfp4", "hif8",
)  # fmt: skip

Topology = Literal["switched", "full_mesh", "supernode_bus", "pcie", "torus"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Quantity(_Frozen):
    """A sourced number."""

    value: float = Field(ge=0, description="the number, in the SI unit named by the field holding it")
    source: str = Field(min_length=1, description="where it comes from ([Sn] tag of hardware.md, URL)")
    confidence: Confidence
    note: str | None = Field(default=None, description="formula for E, conflict resolution, caveats")


class Conflict(_Frozen):
    """Where sources disagree: what was chosen and why."""

    field: str
    chosen: str
    why: str


class Compute(_Frozen):
    """Dense (no 2:4 sparsity) peak tensor/matrix throughput per number format, FLOP/s or OP/s.

    A format that is absent is not native on the chip (it runs converted; see `perf`).
    """

    fp32: Quantity | None = None
    tf32: Quantity | None = None
    bf16: Quantity | None = None
    fp16: Quantity | None = None
    fp8: Quantity | None = None
    int8: Quantity | None = None
    int4: Quantity | None = None
    mxfp8: Quantity | None = None
    mxfp6: Quantity | None = None
    mxfp4: Quantity | None = None
    nvfp4: Quantity | None = None
    hif8: Quantity | None = None

    def peak_flops(self, fmt: str) -> float | None:
        """Dense peak FLOP/s in `fmt`, or None when the chip has no native unit for it."""
        q: Quantity | None = getattr(self, fmt, None)
        return q.value if q is not None else None

    def native_formats(self) -> tuple[str, ...]:
        return tuple(f for f in NUMBER_FORMATS if getattr(self, f) is not None)


class Memory(_Frozen):
    kind: str = Field(description="HBM3, HBM3e, HBM2e, GDDR6, LPDDR5 ...")
    capacity_bytes: Quantity
    bandwidth_bytes_per_s: Quantity


class Link(_Frozen):
    """A chip's link: scale-up (NVLink, HCCS/UB, Infinity Fabric, ...) or scale-out (RDMA NIC)."""

    name: str
    bandwidth_bytes_per_s_per_direction: Quantity
    domain_size: int | None = Field(default=None, ge=1, description="chips one scale-up domain can hold")


class Software(_Frozen):
    stack: str = Field(description="CUDA, ROCm, CANN, Neuware, MACA, MUSA, ...")
    cuda_compatibility: Literal["native", "claimed", "source-port", "none"] = Field(
        description="native = CUDA itself; claimed = vendor claims CUDA compatibility; "
        "source-port = HIP-style translation; none = own stack"
    )
    engines: tuple[str, ...] = Field(default=(), description="serving engines known to run on it")


class FormatSupport(_Frozen):
    """Number-format details beyond the peak table (formats.md section 5)."""

    fp8_flavor: Literal["ocp", "fnuz"] | None = None
    block_scale_hw: Literal["none", "mx_e8m0", "nv_e4m3"] = "none"


class ChipSpec(_Frozen):
    """One accelerator package (the unit that `chips` counts)."""

    id: str
    name: str
    vendor: str
    year: int = Field(ge=2010, le=2035)
    process: str | None = None
    dies_per_package: int = Field(default=1, ge=1)
    compute: Compute
    memory: Memory
    scale_up: Link | None = None
    scale_out: Link | None = None
    tdp_w: Quantity | None = None
    software: Software
    formats: FormatSupport = FormatSupport()
    list_price_usd: Quantity | None = None
    conflicts: tuple[Conflict, ...] = ()
    notes: str | None = None


class Fabric(_Frozen):
    """A system's network: per-chip bandwidth, one direction, and the end-to-end small-message latency."""

    name: str
    topology: Topology
    bandwidth_bytes_per_s_per_direction_per_chip: Quantity
    latency_s: Quantity
    domain_size: int = Field(ge=1, description="chips connected at this bandwidth")


class SystemSpec(_Frozen):
    """A box, rack or supernode of identical chips."""

    id: str
    name: str
    vendor: str
    year: int = Field(ge=2010, le=2035)
    chip: str = Field(description="chip id from the catalog")
    chip_count: int = Field(ge=1)
    scale_up: Fabric
    scale_out: Fabric | None = None
    power_w: Quantity | None = Field(default=None, description="all-in power of the system")
    racks: Quantity | None = None
    list_price_usd: Quantity | None = None
    conflicts: tuple[Conflict, ...] = ()
    notes: str | None = None

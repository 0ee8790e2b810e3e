"""Pure cost of one op on one device: a roofline with measured efficiencies (kernels.md section 0).

time = max(FLOPs / (peak x eff_compute), bytes / (HBM bandwidth x eff_memory)); collectives use an
alpha-beta model over the fabric that spans the group: t = latency + bytes_on_wire / (bw x eff).
Ring all-reduce moves 2(n-1)/n of the message per device (Patarasuk & Yuan 2009).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from modelchip.perf.efficiency import FP4_FORMATS
from modelchip.perf.ops import Num, Op
from modelchip.perf.target import Target

Bound = Literal["compute", "memory", "communication", "overhead"]

SWAP_AB_ROWS = 64.0  # Hopper WGMMA M tile; below it kernels swap A and B (DeepGEMM, CUTLASS swap-AB)
DEFAULT_SCALE_UP_LATENCY_S = 20e-6  # kernels.md 4.3: NCCL all-reduce floor 19-25 us (8 GPUs)
DEFAULT_SCALE_OUT_LATENCY_S = 46e-6  # kernels.md 4.4: 2-node IB NDR small-message floor


@dataclass(frozen=True)
class OpCost:
    op: Op
    time_s: float
    """per occurrence."""
    bound: Bound

    @property
    def total_s(self) -> float:
        return self.time_s * self.op.count


@dataclass(frozen=True)
class Fabric:
    bandwidth_per_device: float
    latency_s: float
    domain_devices: int
    efficiency: float


def device_peak(t: Target, fmt: str) -> float:
    peak = t.chip.compute.peak_flops(fmt) or t.chip.compute.peak_flops("bf16") or 1e12
    return peak / t.devices_per_chip


def _device_bandwidth(t: Target) -> float:
    return t.chip.memory.bandwidth_bytes_per_s.value / t.devices_per_chip


def _k_factor(t: Target, op: Op) -> float:
    """GEMM efficiency at reduction length k relative to the k the family figures were measured at.

    Each output tile pays a fixed cost (pipeline fill, epilogue) worth k_half of reduction: DeepGEMM's
    FP8 GEMMs on H800 at M = 4096 reach 37.9 / 56.8 / 59.0 / 72.1% of peak at K = 512 / 1536 / 2048 /
    16384 (kernels.md 1.3), close to 0.75 K / (K + 500). The cost is fixed in time, so in units of K it
    grows with the rate the tensor cores consume K: k_half scales with the chip's dense FP8 peak (BF16
    where it has no FP8) per device, whatever the GEMM's own format.
    """
    if not op.k:
        return 1.0
    return k_term(t, op.k, "fp8" if t.chip.compute.peak_flops("fp8") else "bf16")


def k_term(t: Target, k: float, rate_fmt: str) -> float:
    """The K term with k_half scaled by the device's peak in `rate_fmt`."""
    k_half = t.gemm_k_half * device_peak(t, rate_fmt) / t.gemm_k_half_reference_flops
    ref = t.gemm_k_reference
    return (k / (k + k_half)) / (ref / (ref + k_half))


def fp8_kv_mla_dequant_rate(t: Target) -> float | None:
    """FLOP/s at which MLA decode over an FP8 latent cache dequantises it on the CUDA cores before the
    tensor-core matmuls; the kernel runs at the slower of this and the tensor-core rate (FlashMLA FP8:
    410 TFLOPS on H800 = 6.1 x its FP32 rate). Whatever cache the deployment holds; None where the family
    has no such bound."""
    per_fp32 = t.efficiency.attention_decode_fp8_kv_per_fp32
    return per_fp32 * device_peak(t, "fp32") if per_fp32 else None


def compute_time(t: Target, op: Op) -> tuple[Num, Num]:
    """(compute-limited, memory-limited) times of a non-communication op."""
    eff = t.efficiency
    bw = _device_bandwidth(t)
    if op.kind == "gemm":
        # Fewer rows than one 64-row tile run swap-AB (tokens on the MMA's N side, granularity 8-16),
        # so the efficiency stays at its 64-row value instead of falling towards zero.
        m_eff = np.maximum(op.m, SWAP_AB_ROWS)
        m_half = t.gemm_m_half_fp4 if op.fmt in FP4_FORMATS else t.gemm_m_half
        e_gemm = eff.gemm_efficiency(op.fmt) * m_eff / (m_eff + m_half) * _k_factor(t, op)
        if op.weight_only:
            # Unpacking 4-bit weights competes with the MMAs for issue slots (efficiency.yaml).
            e_gemm = e_gemm * t.weight_only_gemm
        return op.flops / (device_peak(t, op.fmt) * e_gemm), op.bytes / (bw * eff.gemm_memory_efficiency(op.fmt))
    if op.kind == "attention_prefill":
        return op.flops / (device_peak(t, op.fmt) * eff.attention_prefill), op.bytes / (bw * eff.memory)
    if op.kind == "attention_decode":
        rate = device_peak(t, op.fmt) * eff.attention_decode_compute
        dequant = fp8_kv_mla_dequant_rate(t)
        if op.name.endswith("core_mla") and t.precision.kv_bytes < 2 and dequant is not None:
            rate = np.minimum(rate, dequant)
        return op.flops / rate, op.bytes / (bw * eff.attention_decode_memory)
    return op.flops / (device_peak(t, "bf16") * 0.5), op.bytes / (bw * eff.memory)


def fabrics(t: Target) -> tuple[Fabric, Fabric]:
    """(scale-up, scale-out) fabrics per device, from the system if given, else from the chip's links."""
    dpc, eff = t.devices_per_chip, t.efficiency
    if t.system is not None:
        up = t.system.scale_up
        out = t.system.scale_out
        scale_up = Fabric(
            up.bandwidth_bytes_per_s_per_direction_per_chip.value / dpc,
            up.latency_s.value,
            up.domain_size * dpc,
            eff.scale_up,
        )
        out_bw = out.bandwidth_bytes_per_s_per_direction_per_chip.value if out else 50e9
        out_lat = out.latency_s.value if out else DEFAULT_SCALE_OUT_LATENCY_S
        return scale_up, Fabric(out_bw / dpc, out_lat, 10**6, eff.scale_out)
    link = t.chip.scale_up
    up_bw = link.bandwidth_bytes_per_s_per_direction.value if link else 32e9  # PCIe 5 x16 fallback
    domain = (link.domain_size or 8) if link else 1
    out_bw = t.chip.scale_out.bandwidth_bytes_per_s_per_direction.value if t.chip.scale_out else 50e9
    return (
        Fabric(up_bw / dpc, DEFAULT_SCALE_UP_LATENCY_S, domain * dpc, eff.scale_up),
        Fabric(out_bw / dpc, DEFAULT_SCALE_OUT_LATENCY_S, 10**6, eff.scale_out),
    )


def comm_time(t: Target, op: Op) -> Num:
    up, out = fabrics(t)
    n = max(op.group, 1)
    if n <= 1:
        return 0.0
    if op.collective == "all_to_all":
        return _all_to_all_time(op, n, up, out)
    if op.collective == "p2p":
        # Pipeline stages of an instance wider than one scale-up domain hand over across the NICs.
        link = up if n <= up.domain_devices else out
        return link.latency_s + op.bytes / (link.bandwidth_per_device * link.efficiency)
    wire = 2.0 * (n - 1) / n * op.bytes if op.collective == "all_reduce" else op.bytes
    if n <= up.domain_devices:
        return up.latency_s + wire / (up.bandwidth_per_device * up.efficiency)
    # The group spans several scale-up domains: the share of traffic that leaves the domain goes over
    # the scale-out NICs, the rest over the scale-up fabric, concurrently.
    outside = 1.0 - up.domain_devices / n
    t_out = wire * outside / (out.bandwidth_per_device * out.efficiency)
    t_in = wire * (1 - outside) / (up.bandwidth_per_device * up.efficiency)
    return out.latency_s + np.maximum(t_in, t_out)


def _all_to_all_time(op: Op, n: int, up: Fabric, out: Fabric) -> Num:
    """Expert dispatch/combine: copies to experts spread uniformly over the n devices of the group.

    Inside one scale-up domain every non-local copy crosses the fabric. Across domains, a copy for a
    remote domain crosses the scale-out NIC, once per expert, or once per destination domain when
    deduplicated (E[distinct domains among k picks] = D (1 - (1 - 1/D)^k)) and then forwarded inside it.
    """
    if n <= up.domain_devices:
        return up.latency_s + op.bytes * (n - 1) / n / (up.bandwidth_per_device * up.efficiency)
    domains = n / up.domain_devices
    remote_share = 1.0 - 1.0 / domains
    per_copy = op.bytes / max(op.copies, 1.0)
    if op.dedup_by_domain:
        out_copies = domains * (1.0 - (1.0 - 1.0 / domains) ** op.copies) * remote_share
        in_bytes = op.bytes * (up.domain_devices - 1) / n + op.bytes * remote_share
    else:
        out_copies = op.copies * remote_share
        in_bytes = op.bytes * (up.domain_devices - 1) / n
    t_out: Num = per_copy * out_copies / (out.bandwidth_per_device * out.efficiency)
    t_in: Num = in_bytes / (up.bandwidth_per_device * up.efficiency)
    total: Num = out.latency_s + np.maximum(t_in, t_out)
    return total


def op_time(t: Target, op: Op) -> Num:
    """Time per occurrence; works element-wise on array-valued ops (no bound classification)."""
    if op.kind == "comm":
        return comm_time(t, op)
    t_compute, t_memory = compute_time(t, op)
    return np.maximum(t_compute, t_memory) + t.engine.kernel_overhead_s


def op_cost(t: Target, op: Op) -> OpCost:
    """Time and bound of a scalar op."""
    if op.kind == "comm":
        return OpCost(op, float(comm_time(t, op)), "communication")
    t_compute, t_memory = (float(x) for x in compute_time(t, op))
    overhead = t.engine.kernel_overhead_s
    busy = max(t_compute, t_memory)
    if overhead > busy:
        return OpCost(op, overhead + busy, "overhead")
    return OpCost(op, busy + overhead, "compute" if t_compute >= t_memory else "memory")

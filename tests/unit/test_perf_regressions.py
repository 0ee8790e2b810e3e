"""Regressions found in review: each test fails on the bug it is named after."""

from __future__ import annotations

import pytest

from modelchip.catalog import load_catalog
from modelchip.deploy.layout import Layout
from modelchip.deploy.precision import native_gemm_format
from modelchip.perf import analytic as an
from modelchip.perf.build import PrecisionRequest, build_target
from modelchip.perf.cost import comm_time
from modelchip.perf.memory import memory_plan
from modelchip.perf.ops import Op, StepShape, moe_ops
from modelchip.perf.predict import PredictRequest, predict
from modelchip.perf.target import Speculation

LLAMA_70B = "meta-llama/Meta-Llama-3.1-70B"


def test_pipeline_prefill_cannot_beat_the_compute_roof() -> None:
    w = an.Workload(isl=2048, osl=128)
    rates = []
    for layout in (Layout(tp=8), Layout(tp=2, pp=4), Layout(tp=1, pp=8)):
        t = build_target(LLAMA_70B, "hgx-h100", layout)
        rates.append(an.prefill_pool(t, 16384, w)[0])
    roof = 989.4e12 / (2 * 70e9)  # BF16 peak / FLOPs per token: an upper bound per chip
    assert max(rates) < roof
    assert max(rates) / min(rates) < 2.0  # splitting layers over stages does not multiply throughput


def test_mtp_experts_are_spread_over_ep_not_replicated() -> None:
    plans = [
        memory_plan(build_target("deepseek-ai/DeepSeek-R1", "hgx-h200", Layout(dp=8, ep=8),
                                 speculation=Speculation(d, 0.7)), 1500)
        for d in (0, 1)
    ]  # fmt: skip
    extra_gb = (plans[1].weight_bytes - plans[0].weight_bytes) / 1e9
    # One MTP layer: ~11.6B params, of which ~11.3B routed experts spread over 8 devices (FP8).
    assert 1.0 < extra_gb < 3.0


def test_replicated_experts_split_their_tokens() -> None:
    flops = []
    for n in (8, 16):
        t = build_target("mistralai/Mixtral-8x7B-v0.1", "hgx-h100", Layout(dp=n, ep=n))
        mlp = t.model.layers[0].mlp
        experts = next(op for op in moe_ops(mlp, t.model.hidden_size, t, StepShape("decode", 64, 1, 512), 1.0)
                       if op.name == "moe.experts")  # fmt: skip
        flops.append(float(experts.flops))
    assert flops[0] == pytest.approx(flops[1])  # same tokens per device whatever the replication


def test_vestigial_int8_units_are_not_used() -> None:
    b300 = load_catalog().chip("b300")
    assert native_gemm_format(b300, "int8") == "fp8"


def test_pipeline_handover_between_nodes_uses_the_nic() -> None:
    op = Op("pp.send_recv", "comm", 0.0, 512e6, collective="p2p", group=16)
    one_node = build_target(LLAMA_70B, "hgx-h100", Layout(tp=4, pp=2))
    two_nodes = build_target("meta-llama/Meta-Llama-3.1-405B", "hgx-h100", Layout(tp=8, pp=2))
    inside = float(comm_time(one_node, Op("pp.send_recv", "comm", 0.0, 512e6, collective="p2p", group=8)))
    across = float(comm_time(two_nodes, op))
    assert across > 5 * inside  # 50 GB/s NIC vs 450 GB/s NVLink


def test_zero_batch_is_a_user_error() -> None:
    from modelchip.errors import UserError

    with pytest.raises(UserError, match="--batch"):
        predict(PredictRequest("meta-llama/Meta-Llama-3.1-8B", "h100-sxm", batch=0))


def test_expert_exchange_carries_the_load_imbalance() -> None:
    """The all-to-all ends when the busiest expert device has its tokens: bytes scale like its GEMMs."""
    from dataclasses import replace

    t = build_target("deepseek-ai/DeepSeek-R1", "hgx-h200", Layout(dp=8, ep=8))
    mlp = t.model.layers[-1].mlp
    shape = StepShape("decode", 64, 1, 1024)

    def exchange_bytes(target: object) -> float:
        ops = moe_ops(mlp, t.model.hidden_size, target, shape, 1.0)  # type: ignore[arg-type]
        return sum(float(op.bytes) for op in ops if op.name in ("moe.dispatch", "moe.combine"))

    balanced = replace(t, moe_imbalance=1.0)
    assert exchange_bytes(t) == pytest.approx(exchange_bytes(balanced) * t.moe_imbalance)


def test_fp8_kv_mla_decode_is_bounded_by_the_slower_unit() -> None:
    """FP8-KV MLA dequantises on the CUDA cores: on H800 that binds; on H20 its weak tensor cores do."""
    from modelchip.perf.cost import compute_time
    from modelchip.perf.ops import step_ops

    def core_flops_per_s(system: str) -> float:
        t = build_target("deepseek-ai/DeepSeek-R1", system, Layout(dp=8, ep=8), PrecisionRequest("fp8", kv_cache="fp8"))
        op = next(o for o in step_ops(t, StepShape("decode", 64, 1, 4096)) if o.name == "attn.core_mla")
        return float(op.flops) / float(compute_time(t, op)[0])

    assert core_flops_per_s("hgx-h800") == pytest.approx(6.13 * 66.9e12, rel=1e-3)  # dequantisation bound
    # FP8 tensor-core bound (an FP8 cache is read with FP8 attention: FlashMLA's 0.67 of peak x the H20's
    # power headroom, the GH200/H100 BF16 MAMF ratio 83.8 / 80.3, x 296 TFLOPS)
    assert core_flops_per_s("hgx-h20") == pytest.approx(0.67 * 83.8 / 80.3 * 296e12, rel=2e-3)


def test_fp8_kv_cache_brings_fp8_attention_unless_asked_otherwise() -> None:
    def attention_format(kv: str | None, attention: str | None = None, system: str = "hgx-h100") -> str:
        request = PrecisionRequest("fp8", kv_cache=kv, attention=attention)
        return build_target("deepseek-ai/DeepSeek-R1", system, Layout(dp=8, ep=8), request).precision.attention_format

    assert attention_format("fp8") == "fp8"
    assert attention_format(None) == "bf16"
    assert attention_format("fp8", attention="bf16") == "bf16"
    assert attention_format("fp8", system="atlas-800-a3") != "fp8"  # no FP8 on the 910C: cache stored wider


def test_nvfp4_experts_beside_fp8_layers_run_w4a4_where_native() -> None:
    from modelchip.deploy.precision import resolve_precision

    chips = load_catalog().chips
    on_gb200 = resolve_precision(chips["gb200"], "fp8", "fp8", "fp8", moe="nvfp4")
    assert (on_gb200.gemm_format, on_gb200.moe_gemm_format) == ("fp8", "nvfp4")
    on_h100 = resolve_precision(chips["h100-sxm"], "fp8", "fp8", "fp8", moe="nvfp4")
    assert on_h100.moe_gemm_format == "bf16" and any("MoE expert" in n for n in on_h100.notes)


def test_nvfp4_checkpoints_default_to_an_fp8_kv_cache() -> None:
    """NVIDIA's NVFP4 checkpoints carry an FP8 KV cache (ModelOpt default, read by TensorRT-LLM)."""

    def kv_bytes(weights: str, kv: str | None = None) -> float:
        request = PrecisionRequest(weights, kv_cache=kv)
        return build_target("meta-llama/Meta-Llama-3.1-70B", "b200", Layout(), request).precision.kv_bytes

    assert kv_bytes("nvfp4") == pytest.approx(1.0, abs=1e-3)
    assert kv_bytes("nvfp4", "bf16") == 2.0
    assert kv_bytes("fp8") == 2.0  # FP8 checkpoints keep a BF16 cache unless asked


def test_chips_with_power_headroom_take_the_gh200_over_h100_mamf_ratio() -> None:
    """kernels.md 1.1: MAMF on the 900 W GH200 is 83.8% BF16 / 77.6% FP8 against 80.3% / 70.9% on the
    700 W H100. The GH200 and the H20 (400 W, a seventh of the H100's tensor throughput) get the Hopper
    attention figures scaled by that headroom; the GH200 its GEMMs too; the H100/H800/H200 keep them."""
    from modelchip.perf.efficiency import efficiency_table

    table = efficiency_table()
    hopper = table.for_chip("h100-sxm")
    gh200 = table.for_chip("gh200")
    assert gh200.gemm_efficiency("bf16") == pytest.approx(hopper.gemm_efficiency("bf16") * 83.8 / 80.3, abs=0.01)
    assert gh200.gemm_efficiency("fp8") == pytest.approx(hopper.gemm_efficiency("fp8") * 77.6 / 70.9, abs=0.01)
    for chip in ("h20", "gh200"):
        headroom = table.for_chip(chip)
        # Attention kernels are as clock-bound as GEMMs: the same BF16 headroom (stop 21).
        for field in ("attention_prefill", "attention_decode_compute", "attention_decode_fp8_kv_per_fp32"):
            assert getattr(headroom, field) == pytest.approx(getattr(hopper, field) * 83.8 / 80.3, rel=0.01)
        # Memory and links are the Hopper family's.
        assert headroom.memory == hopper.memory and headroom.attention_decode_memory == hopper.attention_decode_memory
        assert headroom.scale_up == hopper.scale_up
    for chip in ("h800-sxm", "h200-sxm"):
        assert table.for_chip(chip).gemm == hopper.gemm


def test_h20_gemms_are_the_measured_share_of_its_low_peak() -> None:
    """vLLM PR 49932: block-scaled FP8 GEMMs on the H20 reach 275-281 of 296 TFLOPS at M = 4096-8192 (all
    backends), so its tiles run near peak (0.94), well above the H100's 0.65 share of a 7x higher peak:
    in absolute terms still a seventh of the H100's rate."""
    from modelchip.perf.efficiency import efficiency_table

    table = efficiency_table()
    h20, h100 = table.for_chip("h20"), table.for_chip("h100-sxm")
    assert h20.gemm_efficiency("fp8") == pytest.approx(0.94, abs=0.01)
    achieved_h20 = 296e12 * h20.gemm_efficiency("fp8")
    assert 275e12 <= achieved_h20 <= 281e12
    assert achieved_h20 < 0.25 * 1979e12 * h100.gemm_efficiency("fp8")


def test_mi300x_gemms_are_its_sustained_figures_and_the_mi325x_keeps_more() -> None:
    """kernels.md 1.1: MAMF BF16 51.4% on the 750 W MI300X against 60.4% on the 1000 W MI325X, the same CDNA3
    compute; the MI300X's FP8 figure is the MI325X's scaled by that measured ratio (stop 18), which puts it
    at or below the lowest point of its own hipBLASLt FP8 sweep (1.2: 46.8 / 41.4 / 43.7% at 8192^3..32768^3)."""
    from modelchip.perf.efficiency import efficiency_table

    table = efficiency_table()
    mi300x, mi325x = table.for_chip("mi300x"), table.for_chip("mi325x")
    assert mi300x.gemm_efficiency("bf16") == pytest.approx(0.514, abs=0.005)
    assert mi325x.gemm_efficiency("bf16") == pytest.approx(0.604, abs=0.005)
    mamf_ratio = mi300x.gemm_efficiency("bf16") / mi325x.gemm_efficiency("bf16")
    assert mi300x.gemm_efficiency("fp8") == pytest.approx(mi325x.gemm_efficiency("fp8") * mamf_ratio, abs=0.005)
    assert mi300x.gemm_efficiency("fp8") <= 0.414
    # the part with power headroom is never the slower one; its attention kernels (measured on the MI300X)
    # get the same BF16 ratio (stop 21), and memory and links are shared
    for fmt in ("bf16", "fp8", "int8"):
        assert mi325x.gemm_efficiency(fmt) > mi300x.gemm_efficiency(fmt)
    for field in ("attention_prefill", "attention_decode_compute"):
        assert getattr(mi325x, field) == pytest.approx(getattr(mi300x, field) / mamf_ratio, rel=0.01)
    assert mi325x.memory == mi300x.memory and mi325x.attention_decode_memory == mi300x.attention_decode_memory


@pytest.mark.parametrize(
    ("chip", "mamf_bf16", "mamf_fp8"),
    [("b200", 77.6, 76.3), ("b300", 78.6, 74.5)],
)
def test_hgx_blackwell_gemms_are_the_gb200_figures_scaled_by_measured_mamf(
    chip: str, mamf_bf16: float, mamf_fp8: float
) -> None:
    """kernels.md 1.1: MAMF on the GB200 is 72.9% BF16 / 72.3% FP8 of its peak; the HGX parts reach a larger
    share of their lower peaks. Only the GEMMs differ: the rest of the Blackwell family is shared."""
    from modelchip.perf.efficiency import efficiency_table

    table = efficiency_table()
    gb200, hgx = table.for_chip("gb200"), table.for_chip(chip)
    assert hgx.gemm_efficiency("bf16") == pytest.approx(gb200.gemm_efficiency("bf16") * mamf_bf16 / 72.9, abs=0.002)
    for fmt in ("fp8", "nvfp4", "mxfp4"):
        assert hgx.gemm_efficiency(fmt) == pytest.approx(gb200.gemm_efficiency(fmt) * mamf_fp8 / 72.3, abs=0.002)
    assert table.for_chip("gb300").gemm == gb200.gemm
    assert hgx.memory == gb200.memory and hgx.scale_up == gb200.scale_up


@pytest.mark.parametrize(("chip", "mamf_bf16_tflops"), [("gb200", 1822.0), ("gb300", 1822.0), ("b300", 1769.0)])
def test_blackwell_attention_figures_are_the_b200_measurements_scaled_by_measured_mamf(
    chip: str, mamf_bf16_tflops: float
) -> None:
    """The Blackwell attention kernels were measured on a B200 (kernels.md 2; sglang PR 6929). Another part runs
    them at the B200's achieved rate x the measured BF16 MAMF ratio (kernels.md 1.1: 1745 TFLOPS on the B200),
    not at the same share of a datasheet peak (a GB200 is 1.044x a B200 measured, 1.11x on paper); the GB300
    has no MAMF and keeps the GB200's."""
    from modelchip.perf.efficiency import efficiency_table

    table = efficiency_table()
    b200, other = table.for_chip("b200"), table.for_chip(chip)
    b200_chip, other_chip = load_catalog().chip("b200"), load_catalog().chip(chip)
    ratio = mamf_bf16_tflops / 1745.0
    bf16 = other_chip.compute.peak_flops("bf16") / b200_chip.compute.peak_flops("bf16")
    fp32 = other_chip.compute.peak_flops("fp32") / b200_chip.compute.peak_flops("fp32")
    assert other.attention_prefill * bf16 == pytest.approx(b200.attention_prefill * ratio, rel=0.003)
    assert other.attention_decode_compute * bf16 == pytest.approx(b200.attention_decode_compute * ratio, rel=0.003)
    assert b200.attention_decode_fp8_kv_per_fp32 is not None and other.attention_decode_fp8_kv_per_fp32 is not None
    assert other.attention_decode_fp8_kv_per_fp32 * fp32 == pytest.approx(
        b200.attention_decode_fp8_kv_per_fp32 * ratio, rel=0.003
    )


def test_b200_per_chip_gemm_rate_follows_the_measured_mamf_not_the_datasheet() -> None:
    """Datasheets put the B200 at 0.9 of the GB200 (FP8 4500 against 5000 TFLOPS); measured MAMF at 0.95
    (3432 against 3616). The modelled achieved rate follows the measurement."""
    from modelchip.perf.efficiency import efficiency_table

    table = efficiency_table()
    achieved = {
        chip: table.for_chip(chip).gemm_efficiency("fp8") * peak for chip, peak in (("b200", 4500), ("gb200", 5000))
    }
    assert achieved["b200"] / achieved["gb200"] == pytest.approx(3432.5 / 3615.6, abs=0.01)


def test_blackwell_bf16_mla_decode_runs_at_the_measured_cutlass_rate() -> None:
    """sglang PR 6929: cutlass_mla_decode, BF16 Q and KV, 128 heads, batch 256, contexts 2048 / 4096 / 8192,
    printed as GB/s of traffic (Q + O + the whole latent cache); as FLOPs (2 x 128 x (576 + 512) per cached
    token) that is 38.9 / 40.7 / 43.0% of the B200's 2,250 TFLOPS, and the middle one is the figure. A
    BF16-cache decode step on a GB200 then takes its MLA core at that share of the chip's BF16 peak."""
    from modelchip.perf.efficiency import efficiency_table

    heads, batch = 128, 256
    shares = []
    for context, gb_per_s in ((2048, 4047.3), (4096, 4015.4), (8192, 4124.5)):
        traffic = batch * heads * (576 + 512) * 2 + batch * context * 576 * 2
        flops = batch * 2 * heads * (576 + 512) * context
        shares.append(flops / (traffic / (gb_per_s * 1e9)) / 2250e12)
    assert shares == pytest.approx([0.389, 0.407, 0.430], abs=0.002)
    assert efficiency_table().for_chip("b200").attention_decode_compute == pytest.approx(shares[1], abs=0.005)
    rates = {}
    for chip in ("b200", "gb200"):
        t = build_target("deepseek-ai/DeepSeek-R1", chip, Layout(dp=8, ep=8), PrecisionRequest("fp8", kv_cache="bf16"))
        step = an.decode_step(t, 512, 2000)
        mla = sum(c.total_s for c in step.costs if c.op.name == "attn.core_mla")
        rates[chip] = sum(c.op.flops * c.op.count for c in step.costs if c.op.name == "attn.core_mla") / mla
    assert rates["b200"] == pytest.approx(0.41 * 2250e12, rel=0.03)
    assert rates["gb200"] / rates["b200"] == pytest.approx(1822.0 / 1745.0, rel=0.01)  # measured MAMF, not 2500/2250


def test_blackwell_fp4_gemms_stream_weights_slower_than_fp8_ones() -> None:
    """At decode-sized M a GEMM is bound by its weight reads. Measured NVFP4 kernels stream well below FP8
    ones on a B200 (efficiency.yaml memory_fp4_gemm: 1.8-5.5 TB/s against FP8's 5.1-5.3), so FP4 weights
    cost 0.5625 / 0.60 of a byte-second where FP8 ones cost 1 / 0.80: 0.75 of the FP8 time, not 0.56.
    Hand-computed for the 28672 x 4096 up projection at M = 1."""
    from modelchip.perf.cost import compute_time
    from modelchip.perf.ops import _gemm

    fp4 = build_target("meta-llama/Meta-Llama-3.1-405B", "b200", Layout(tp=8), PrecisionRequest("nvfp4"))
    fp8 = build_target("meta-llama/Meta-Llama-3.1-405B", "b200", Layout(tp=8), PrecisionRequest("fp8"))
    n, k = 28672, 4096
    hbm = fp4.chip.memory.bandwidth_bytes_per_s.value
    t_fp4 = compute_time(fp4, _gemm("up", 1, n, k, 0.5625, "nvfp4", 1))
    t_fp8 = compute_time(fp8, _gemm("up", 1, n, k, 1.0, "fp8", 1))
    activations = 2.0 * (n + k)  # one row in and out, BF16
    assert t_fp4[1] == pytest.approx((n * k * 0.5625 + activations) / (hbm * 0.60), rel=1e-9)
    assert t_fp8[1] == pytest.approx((n * k * 1.0 + activations) / (hbm * 0.80), rel=1e-9)
    assert t_fp4[1] > t_fp4[0] and t_fp8[1] > t_fp8[0]  # both memory-bound at one row
    assert t_fp4[1] / t_fp8[1] == pytest.approx(0.75, abs=0.01)
    # a small-batch decode step follows: faster in FP4 than in FP8, but by no more than its GEMMs' 0.75
    step_fp4 = an.decode_step(fp4, 4, 2000).time_s
    step_fp8 = an.decode_step(fp8, 4, 2000).time_s
    assert 0.75 < step_fp4 / step_fp8 < 1.0


def test_fp4_weight_streaming_is_a_blackwell_figure_only() -> None:
    """Families without their own FP4 streaming figure stream every format at `memory`; so does FP8 on
    Blackwell."""
    from modelchip.perf.efficiency import efficiency_table

    table = efficiency_table()
    for chip in ("b200", "gb200", "gb300", "b300"):
        family = table.for_chip(chip)
        assert family.gemm_memory_efficiency("nvfp4") == family.gemm_memory_efficiency("mxfp4") == 0.60
        assert family.gemm_memory_efficiency("fp8") == family.memory
    for chip in ("h100-sxm", "mi355x", "ascend-910c"):
        family = table.for_chip(chip)
        assert family.gemm_memory_efficiency("mxfp4") == family.memory


def test_predict_and_plan_say_which_fp8_cache_mla_rate_they_model_on_blackwell() -> None:
    """Blackwell's FP8-cache MLA decode runs at FlashMLA's dequantisation-bound rate, below the BF16-cache
    rate, where the engines' own kernels are faster in FP8: `predict` and `plan` say so for MLA models on
    Blackwell, whichever cache the deployment holds (a BF16 one then ranks faster), and only there (not on
    Hopper, where FlashMLA is the engines' kernel, and not for GQA)."""
    from modelchip.search.evaluate import fp8_kv_mla_note

    def mla_notes(model: str, hardware: str, layout: Layout, kv: str) -> list[str]:
        request = PredictRequest(
            model, hardware, layout=layout, batch=256, precision=PrecisionRequest("fp8", kv_cache=kv)
        )
        return [n for n in predict(request).notes if "FP8 cache" in n]

    dsr1, ep8 = "deepseek-ai/DeepSeek-R1", Layout(dp=8, ep=8)
    (note,) = mla_notes(dsr1, "b200", ep8, "fp8")
    assert "350 TFLOPS" in note and "the 922 of a BF16 cache" in note  # 4.67 x 75 FP32; 0.41 x 2250 BF16
    assert mla_notes(dsr1, "b200", ep8, "bf16") == [note]
    assert mla_notes(dsr1, "gb300", ep8, "fp8")
    assert not mla_notes(dsr1, "h200-sxm", ep8, "fp8")
    assert not mla_notes("meta-llama/Meta-Llama-3.1-70B", "b200", Layout(tp=8), "fp8")
    # the planner's evaluations carry it too (its best DeepSeek-R1 deployments on B200 hold BF16 caches)
    t = build_target(dsr1, "b200", ep8, PrecisionRequest("fp8", kv_cache="bf16"))
    assert fp8_kv_mla_note(t) == [note]


@pytest.mark.parametrize(
    ("hardware", "engine", "ep", "overlapped"),
    [
        ("hgx-h800", "sglang", 16, True),  # EP over RDMA between two 8-GPU nodes: the large-scale EP recipe
        ("gb200-nvl72", "sglang", 48, False),  # one NVLink domain: LMSYS GB200 Part I ran without TBO
        ("hgx-h800", "sglang", 8, False),  # inside one node
        ("gb200-nvl72", "deepseek-internal", 48, True),  # engines that overlap everywhere keep it
        ("cloudmatrix384", "cloudmatrix-infer", 64, True),
        ("gb200-nvl72", "trtllm", 48, False),  # no two-batch overlap in the profile
    ],
)
def test_sglang_splits_micro_batches_only_where_its_expert_exchange_leaves_the_scale_up_domain(
    hardware: str, engine: str, ep: int, overlapped: bool
) -> None:
    """engines.yaml sglang: --enable-two-batch-overlap is opt-in; the SGLang team's deployments turn it on for
    multi-node EP over RDMA and left it off inside a GB200 NVL72. The decode step then never runs split, and
    `predict` says which schedule it models."""
    from modelchip.perf.predict import two_batch_overlap_note
    from modelchip.perf.step import step_time, supports_two_batch_overlap

    t = build_target("deepseek-ai/DeepSeek-R1", hardware, Layout(dp=ep, ep=ep), PrecisionRequest("fp8"), engine=engine)
    assert supports_two_batch_overlap(t) is overlapped
    steps = [step_time(t, StepShape("decode", b, 1, 2000.0)) for b in (64.0, 256.0, 1024.0)]
    if not overlapped:
        assert not any(s.overlapped for s in steps)
    else:
        assert steps[-1].overlapped  # at 1,024 sequences per rank the split schedule is the faster one
    notes = two_batch_overlap_note(t)
    if engine == "trtllm":
        assert notes == []
    else:
        assert len(notes) == 1 and (("without" in notes[0]) is not overlapped)

"""The bundled hardware catalog: ids, units, formats and the published system comparisons.

Numbers asserted here come from shared/reference/hardware.md (sections 1-7) and
shared/validation/SCHEMA.md ("Ids"); each test names the section it checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from modelchip.catalog import load_catalog
from modelchip.catalog.loader import Catalog
from modelchip.catalog.schema import ChipSpec, Quantity, SystemSpec

# SCHEMA.md "Ids": these names must resolve (the spec; the catalog may hold more).
REQUIRED_CHIP_IDS = (
    "h100-sxm", "h800-sxm", "h20", "h200-sxm", "gh200", "b200", "gb200", "b300", "gb300", "a100-sxm",
    "mi300x", "mi325x", "mi355x", "ascend-910b", "ascend-910c", "ascend-950pr", "ascend-950dt", "mlu590",
    "metax-c500", "metax-c550", "mtt-s4000", "mtt-s5000", "br100", "ppu-zhenwu", "kunlun-p800",
)  # fmt: skip
REQUIRED_SYSTEM_IDS = (
    "hgx-h100", "hgx-h800", "hgx-h20", "hgx-h200", "hgx-b200", "gb200-nvl72", "gb300-nvl72",
    "atlas-800t-a2", "atlas-800-a3", "cloudmatrix384", "metax-supernode-128",
)  # fmt: skip

BLACKWELL = ("b200", "gb200", "b300", "gb300")
HOPPER = ("h100-sxm", "h800-sxm", "h20", "h200-sxm", "gh200")
FP4_FORMATS = ("mxfp4", "nvfp4")
# Chips that validation/cases.yaml pairs with a system.
CASE_CHIPS = ("h100-sxm", "h800-sxm", "h20", "h200-sxm", "b200", "gb200", "gb300", "ascend-910c", "mi300x")
# Chips named in hardware.md section 7 (conflicts): each must record what it chose.
CONFLICT_CHIPS = (
    "ascend-910c", "ascend-950pr", "ascend-950dt", "b200", "gb200", "b300", "h20", "mi300x",
    "mtt-s4000", "br100",
)  # fmt: skip
# Chips whose every figure is n/f in hardware.md (section 8): only U/E placeholders allowed.
PLACEHOLDER_CHIPS = ("mlu590", "metax-c550", "kunlun-p800")
# A formula in an E source needs an operator or an equals sign.
FORMULA_MARKERS = ("=", " x ", "/", "+", "*", " - ")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(extra_dirs=())


def _quantities(model: BaseModel, path: str) -> Iterator[tuple[str, Quantity]]:
    """Every Quantity inside a spec, with its dotted field path."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Quantity):
            yield f"{path}.{name}", value
        elif isinstance(value, BaseModel):
            yield from _quantities(value, f"{path}.{name}")


def _all_quantities(catalog: Catalog) -> list[tuple[str, Quantity]]:
    specs: list[ChipSpec | SystemSpec] = [*catalog.chips.values(), *catalog.systems.values()]
    return [item for spec in specs for item in _quantities(spec, spec.id)]


# ---- ids and references ----------------------------------------------------------------------


@pytest.mark.parametrize("chip_id", REQUIRED_CHIP_IDS)
def test_required_chip_ids_resolve(catalog: Catalog, chip_id: str) -> None:
    chip, system = catalog.resolve(chip_id)
    assert chip.id == chip_id
    assert system is None


@pytest.mark.parametrize("system_id", REQUIRED_SYSTEM_IDS)
def test_required_system_ids_resolve(catalog: Catalog, system_id: str) -> None:
    chip, system = catalog.resolve(system_id)
    assert system is not None and system.id == system_id
    assert chip.id == system.chip


def test_every_system_chip_exists_and_domain_fits(catalog: Catalog) -> None:
    for system in catalog.systems.values():
        assert system.chip in catalog.chips, system.id
        assert system.scale_up.domain_size <= system.chip_count, system.id


def test_case_chips_have_a_system(catalog: Catalog) -> None:
    # The validation cases name these chips together with a system; each must have one.
    for chip_id in CASE_CHIPS:
        assert catalog.default_system(chip_id) is not None, chip_id


# ---- provenance ------------------------------------------------------------------------------


def test_estimates_carry_their_formula(catalog: Catalog) -> None:
    missing = [
        path
        for path, q in _all_quantities(catalog)
        if q.confidence == "E" and not q.note and not any(m in q.source for m in FORMULA_MARKERS)
    ]
    assert not missing, f"E quantities without a formula in note or source: {missing}"


def test_unverified_numbers_say_why(catalog: Catalog) -> None:
    # A U number must carry a note, or a source that says what it is (press price, n/f, placeholder).
    reasons = ("n/f", "placeholder", "press", "third-party", "not in hardware.md", "recalled")
    bare = [
        path
        for path, q in _all_quantities(catalog)
        if q.confidence == "U" and not q.note and not any(r in q.source for r in reasons)
    ]
    assert not bare, f"U quantities without a reason: {bare}"


@pytest.mark.parametrize("chip_id", PLACEHOLDER_CHIPS)
def test_placeholder_chips_are_never_confident(catalog: Catalog, chip_id: str) -> None:
    chip = catalog.chip(chip_id)
    for path, q in _quantities(chip, chip_id):
        assert q.confidence in ("E", "U"), f"{path} claims {q.confidence} but hardware.md has no figure"


# ---- units (SI, per direction) -----------------------------------------------------------------


def test_chip_numbers_are_in_si_units(catalog: Catalog) -> None:
    for chip in catalog.chips.values():
        cap = chip.memory.capacity_bytes.value
        bw = chip.memory.bandwidth_bytes_per_s.value
        assert 16e9 <= cap <= 1e12, f"{chip.id}: capacity {cap} is not in bytes"
        assert 1e11 <= bw <= 5e13, f"{chip.id}: bandwidth {bw} is not in B/s"
        peak = chip.compute.peak_flops("bf16") or chip.compute.peak_flops("fp16")
        assert peak is not None and 5e13 <= peak <= 2e16, f"{chip.id}: 16-bit peak {peak} is not in FLOP/s"
        if chip.tdp_w is not None:
            assert 100 <= chip.tdp_w.value <= 2000, chip.id


@pytest.mark.parametrize(
    ("chip_id", "uni"),
    [
        ("h100-sxm", 450e9),  # NVLink4 900 GB/s bidir
        ("h800-sxm", 200e9),  # 400 GB/s bidir
        ("h20", 450e9),
        ("a100-sxm", 300e9),  # NVLink3 600 GB/s bidir
        ("a800-sxm", 200e9),
        ("b200", 900e9),  # NVLink5 1.8 TB/s bidir
        ("gb200", 900e9),
        ("gb300", 900e9),
        ("ascend-910c", 392e9),  # CM384 paper uni; Huawei's 784 is bidir
        ("mi300x", 448e9),  # 7 x 64 GB/s uni
    ],
)
def test_bidirectional_figures_were_halved(catalog: Catalog, chip_id: str, uni: float) -> None:
    link = catalog.chip(chip_id).scale_up
    assert link is not None
    assert link.bandwidth_bytes_per_s_per_direction.value == pytest.approx(uni)


def test_system_links_match_their_chip_and_are_per_direction(catalog: Catalog) -> None:
    assert catalog.system("hgx-h100").scale_up.bandwidth_bytes_per_s_per_direction_per_chip.value == 450e9
    assert catalog.system("gb200-nvl72").scale_up.bandwidth_bytes_per_s_per_direction_per_chip.value == 900e9
    for system in catalog.systems.values():
        up = system.scale_up.bandwidth_bytes_per_s_per_direction_per_chip.value
        assert up <= 1.0e12, f"{system.id}: {up} looks like a bidirectional or total figure"
        assert 1e-6 <= system.scale_up.latency_s.value <= 1e-3, system.id


def test_system_power_covers_its_chips(catalog: Catalog) -> None:
    for system in catalog.systems.values():
        chip = catalog.chip(system.chip)
        if system.power_w is not None and chip.tdp_w is not None:
            assert system.power_w.value >= system.chip_count * chip.tdp_w.value, system.id


# ---- number formats (hardware.md section 5) ----------------------------------------------------


@pytest.mark.parametrize("chip_id", BLACKWELL)
def test_blackwell_has_fp4_and_mx(catalog: Catalog, chip_id: str) -> None:
    chip = catalog.chip(chip_id)
    fmts = chip.compute.native_formats()
    assert {"fp8", "mxfp8", "mxfp4", "nvfp4"} <= set(fmts)
    assert chip.compute.peak_flops("nvfp4") == chip.compute.peak_flops("mxfp4")
    assert chip.compute.peak_flops("mxfp8") == chip.compute.peak_flops("fp8")
    assert chip.formats.block_scale_hw == "mx_e8m0"
    assert chip.dies_per_package == 2


@pytest.mark.parametrize("chip_id", HOPPER)
def test_hopper_has_fp8_but_no_fp4(catalog: Catalog, chip_id: str) -> None:
    chip = catalog.chip(chip_id)
    fmts = set(chip.compute.native_formats())
    assert "fp8" in fmts
    assert not fmts & {*FP4_FORMATS, "mxfp8", "mxfp6"}
    assert chip.formats.block_scale_hw == "none"


def test_ampere_has_no_fp8(catalog: Catalog) -> None:
    for chip_id in ("a100-sxm", "a800-sxm"):
        assert catalog.chip(chip_id).compute.fp8 is None


def test_amd_formats(catalog: Catalog) -> None:
    mi355 = catalog.chip("mi355x")
    assert mi355.compute.nvfp4 is None
    assert mi355.compute.mxfp4 is not None and mi355.compute.mxfp6 is not None
    assert mi355.formats.fp8_flavor == "ocp" and mi355.formats.block_scale_hw == "mx_e8m0"
    for chip_id in ("mi300x", "mi325x"):
        chip = catalog.chip(chip_id)
        assert chip.formats.fp8_flavor == "fnuz"
        assert chip.compute.mxfp4 is None
        assert chip.dies_per_package == 1  # one logical device
    # hardware.md section 7 conflict 10: 2615 is FP8 dense, not FP16 dense.
    assert catalog.chip("mi300x").compute.peak_flops("fp16") == pytest.approx(1307.4e12)


@pytest.mark.parametrize("chip_id", ("ascend-910b", "ascend-910c"))
def test_ascend_910_has_int8_but_no_fp8(catalog: Catalog, chip_id: str) -> None:
    fmts = set(catalog.chip(chip_id).compute.native_formats())
    assert "int8" in fmts
    assert not fmts & {"fp8", "mxfp8", "hif8", *FP4_FORMATS}


@pytest.mark.parametrize("chip_id", ("ascend-950pr", "ascend-950dt"))
def test_ascend_950_has_fp8_from_the_whitepaper(catalog: Catalog, chip_id: str) -> None:
    chip = catalog.chip(chip_id)
    assert {"fp8", "mxfp8", "hif8", "mxfp4"} <= set(chip.compute.native_formats())
    assert chip.compute.nvfp4 is None
    # hardware.md section 7 conflict 2: whitepaper 865 / 1730 TF, not the 1 PF / 2 PF marketing.
    assert chip.compute.peak_flops("fp8") == pytest.approx(865e12)
    assert chip.compute.peak_flops("mxfp4") == pytest.approx(1730e12)
    assert chip.formats.block_scale_hw == "mx_e8m0"


def test_ascend_950_memory_split(catalog: Catalog) -> None:
    # hardware.md section 7 conflict 3: PR = 128 GB / 1.6 TB/s, DT = 144 GB / 4 TB/s.
    pr, dt = catalog.chip("ascend-950pr").memory, catalog.chip("ascend-950dt").memory
    assert (pr.capacity_bytes.value, pr.bandwidth_bytes_per_s.value) == (128e9, 1.6e12)
    assert (dt.capacity_bytes.value, dt.bandwidth_bytes_per_s.value) == (144e9, 4.0e12)


def test_910c_headline_and_conflict(catalog: Catalog) -> None:
    chip = catalog.chip("ascend-910c")
    assert chip.compute.peak_flops("bf16") == pytest.approx(752e12)
    assert chip.dies_per_package == 2
    assert catalog.chip("br100").dies_per_package == 2
    text = " ".join(c.why for c in chip.conflicts if c.field == "compute.bf16")
    for figure in ("780", "800", "708"):
        assert figure in text, f"910C bf16 conflict should mention {figure} TF"
    # 910C = 2 x 910B: the headline figures agree.
    per_die = catalog.chip("ascend-910b").compute.peak_flops("bf16")
    assert per_die is not None
    assert chip.compute.peak_flops("bf16") == pytest.approx(2 * per_die)


def test_b300_int8_is_cut(catalog: Catalog) -> None:
    # hardware.md section 7 conflict 7: NVIDIA's HGX B300 table, not Lockwood's 4500 TOPS.
    b300 = catalog.chip("b300").compute
    int8, fp8 = b300.peak_flops("int8"), b300.peak_flops("fp8")
    assert int8 is not None and fp8 is not None
    assert int8 < 0.1 * fp8


@pytest.mark.parametrize("chip_id", CONFLICT_CHIPS)
def test_section_7_conflicts_are_recorded(catalog: Catalog, chip_id: str) -> None:
    assert catalog.chip(chip_id).conflicts, f"{chip_id} is in hardware.md section 7 but records no conflict"


# ---- hardware.md 6.2: CloudMatrix384 vs GB200 NVL72, computed from chip x count ----------------


def _totals(catalog: Catalog, system_id: str) -> dict[str, float]:
    system = catalog.system(system_id)
    chip = catalog.chip(system.chip)
    n = system.chip_count
    out = system.scale_out.bandwidth_bytes_per_s_per_direction_per_chip.value if system.scale_out else 0.0
    bf16 = chip.compute.peak_flops("bf16")
    assert bf16 is not None and system.power_w is not None
    return {
        "bf16": n * bf16,
        "hbm": n * chip.memory.capacity_bytes.value,
        "hbm_bw": n * chip.memory.bandwidth_bytes_per_s.value,
        "power": system.power_w.value,
        "up": n * system.scale_up.bandwidth_bytes_per_s_per_direction_per_chip.value,
        "out": n * out,
    }


def test_cm384_and_nvl72_absolute_totals(catalog: Catalog) -> None:
    cm, nv = _totals(catalog, "cloudmatrix384"), _totals(catalog, "gb200-nvl72")
    assert cm["bf16"] == pytest.approx(289e15, rel=0.005)  # 384 x 752 TF (300 PF with 780 TF)
    assert nv["bf16"] == pytest.approx(180e15, rel=0.005)  # 72 x 2500 TF
    assert cm["hbm"] == pytest.approx(49.2e12, rel=0.005)
    assert nv["hbm"] == pytest.approx(13.4e12, rel=0.005)  # 72 x 186 GB (SemiAnalysis: 13.8 TB)
    assert cm["hbm_bw"] == pytest.approx(1229e12, rel=0.005)
    assert nv["hbm_bw"] == pytest.approx(576e12, rel=0.005)
    assert cm["power"] == pytest.approx(559e3, rel=0.005)
    assert nv["power"] == pytest.approx(145e3, rel=0.005)


@pytest.mark.parametrize(
    ("metric", "low", "high"),
    [
        ("bf16", 1.58, 1.72),  # SemiAnalysis 1.7x (300 PF); 1.6x with 752 TF
        ("hbm", 3.5, 3.75),  # ~3.6x (3.67 with 186 GB, 3.57 with 192 GB)
        ("hbm_bw", 2.05, 2.2),  # ~2.1x
        ("power", 3.8, 4.0),  # ~3.9x
        ("up", 2.0, 2.4),  # SemiAnalysis 2.1x implies ~350 GB/s; 392 GB/s gives 2.3x
        ("out", 5.2, 5.4),  # 5.3x = 384 / 72 at 400G each
    ],
)
def test_cm384_vs_nvl72_ratios(catalog: Catalog, metric: str, low: float, high: float) -> None:
    ratio = _totals(catalog, "cloudmatrix384")[metric] / _totals(catalog, "gb200-nvl72")[metric]
    assert low <= ratio <= high, f"CM384/NVL72 {metric} = {ratio:.3f}, hardware.md 6.2 says {low}-{high}"


def test_watts_per_bf16_tflop(catalog: Catalog) -> None:
    # hardware.md 6.2: 0.81 W/TF (NVL72) vs 1.87 W/TF (CM384 at 300 PF); 1.93 at 289 PF.
    cm, nv = _totals(catalog, "cloudmatrix384"), _totals(catalog, "gb200-nvl72")
    assert nv["power"] / (nv["bf16"] / 1e12) == pytest.approx(0.81, abs=0.01)
    assert 1.85 <= cm["power"] / (cm["bf16"] / 1e12) <= 1.95

"""The command line, golden-style: `main([...])` with captured output, JSON shapes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelchip.catalog.loader import load_catalog
from modelchip.cli.app import main
from modelchip.errors import UserError

BUNDLED_CHIPS = Path(__file__).resolve().parents[2] / "src" / "modelchip" / "catalog" / "data" / "chips"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    return json.loads(out)


def _need_systems(*ids: str) -> None:
    missing = [i for i in ids if i not in load_catalog().systems]
    if missing:
        pytest.skip(f"system(s) {', '.join(missing)} not in the catalog yet (being added)")


# --- catalog -------------------------------------------------------------------------------------


def test_catalog_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "catalog", "list", "--json")
    assert set(data) == {"chips", "systems"}
    chip_ids = {c["id"] for c in data["chips"]}
    system_ids = {s["id"] for s in data["systems"]}
    assert {"h100-sxm", "ascend-910c"} <= chip_ids
    assert "hgx-h100" in system_ids
    _need_systems("cloudmatrix384")
    assert "cloudmatrix384" in system_ids
    h100 = next(c for c in data["chips"] if c["id"] == "h100-sxm")
    assert h100["hbm_bytes"] == pytest.approx(80e9)
    assert h100["hbm_bandwidth_bytes_per_s"] == pytest.approx(3.35e12)
    assert "bf16" in h100["formats"] and "nvfp4" not in h100["formats"]


def test_catalog_list_vendor_filter(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "catalog", "list", "--vendor", "huawei", "--json")
    assert data["chips"] and all(c["vendor"] == "huawei" for c in data["chips"])
    assert "h100-sxm" not in {c["id"] for c in data["chips"]}


def test_catalog_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "catalog", "list")
    assert code == 0
    assert "h100-sxm" in out and "ascend-910c" in out


@pytest.mark.parametrize("width", [80, 160])
def test_list_tables_never_cut_an_id(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """Ids are what users copy into --hardware/--system/--model: no terminal width may truncate or wrap them."""
    from modelchip.cli.output import console
    from modelchip.models.hf import list_models

    monkeypatch.setattr(console, "width", width)
    cat = load_catalog()
    _, out, _ = _run(capsys, "catalog", "list")
    cells = {cell.strip() for line in out.splitlines() for cell in line.split("│")}
    assert set(cat.chips) | set(cat.systems) <= cells
    _, out, _ = _run(capsys, "models", "list")
    cells = {cell.strip() for line in out.splitlines() for cell in line.split("│")}
    assert set(list_models()) <= cells


def test_compare_ratios_read_as_plain_numbers_both_ways(capsys: pytest.CaptureFixture[str]) -> None:
    """A supernode against an 8-GPU box is hundreds of times larger, the reverse a few thousandths: neither
    may print as 0.00x or in exponent notation."""
    _need_systems("cloudmatrix384", "hgx-h20")
    for pair in (("hgx-h20", "cloudmatrix384"), ("cloudmatrix384", "hgx-h20")):
        code, out, _ = _run(capsys, "catalog", "compare", *pair)
        text = " ".join(out.split())
        assert code == 0 and "e+" not in text and "0.00x" not in text
        assert f"{pair[1]} / {pair[0]}: BF16" in text


def test_catalog_compare_cloudmatrix384_vs_gb200_nvl72(capsys: pytest.CaptureFixture[str]) -> None:
    """hardware.md 6.2: CloudMatrix384 has ~1.7x the BF16 compute of GB200 NVL72 at ~3.9x the power."""
    _need_systems("cloudmatrix384", "gb200-nvl72")
    rows = _json(capsys, "catalog", "compare", "cloudmatrix384", "gb200-nvl72", "--json")
    cm, nvl = rows
    assert (cm["id"], nvl["id"]) == ("cloudmatrix384", "gb200-nvl72")
    assert (cm["chips"], nvl["chips"]) == (384, 72)
    # Datasheet totals: 384 x 910C at 752 TFLOP/s BF16; 72 x GB200 GPU at 2.5 PFLOP/s BF16 dense.
    assert cm["flops"]["bf16"] == pytest.approx(384 * 752e12, rel=0.02)
    assert nvl["flops"]["bf16"] == pytest.approx(72 * 2.5e15, rel=0.02)
    assert 1.5 <= cm["flops"]["bf16"] / nvl["flops"]["bf16"] <= 1.8
    assert 3.5 <= cm["power_w"] / nvl["power_w"] <= 4.2
    assert cm["bf16_flops_per_w"] < nvl["bf16_flops_per_w"]


def test_catalog_compare_table_names_both(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "catalog", "compare", "h100-sxm", "b200")
    assert code == 0
    assert "h100-sxm" in out and "b200" in out


def test_catalog_show_prints_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "catalog", "show", "h100-sxm")
    assert code == 0
    assert "h100-sxm" in out
    assert "[S1]" in out  # the hardware.md source tag of the datasheet numbers
    assert "compute.bf16" in out


def test_catalog_show_json_carries_source_and_confidence(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "catalog", "show", "h100-sxm", "--json")
    bf16 = data["compute"]["bf16"]
    assert bf16["value"] == pytest.approx(989.4e12)
    assert bf16["confidence"] == "D"
    assert bf16["source"]


def test_catalog_show_system(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "catalog", "show", "hgx-h100", "--json")
    assert data["id"] == "hgx-h100" and data["chip"] == "h100-sxm" and data["chip_count"] == 8


# --- models --------------------------------------------------------------------------------------


def test_models_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _json(capsys, "models", "list", "--json")
    assert len(rows) >= 25
    ids = {r["id"] for r in rows}
    assert {"deepseek-ai/DeepSeek-R1", "meta-llama/Meta-Llama-3.1-8B"} <= ids
    assert all(r["total_params"] >= r["active_params"] > 0 for r in rows)


def test_models_show_deepseek_r1(capsys: pytest.CaptureFixture[str]) -> None:
    """DeepSeek-V3/R1: 671 B total, 37 B activated (arXiv 2412.19437), MLA, 61 layers, FP8 checkpoint."""
    data = _json(capsys, "models", "show", "deepseek-ai/DeepSeek-R1", "--json")
    assert data["total_params"] == pytest.approx(671e9, rel=0.02)
    assert data["active_params"] == pytest.approx(37e9, rel=0.05)
    assert data["layers"] == 61
    assert data["attention"] == ["mla"]
    assert data["moe"] is True
    assert data["native_weight_format"] == "fp8"
    assert data["kv_bytes_per_token"]["bf16"] == pytest.approx(61 * (512 + 64) * 2)


def test_models_show_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "models", "show", "meta-llama/Meta-Llama-3.1-8B")
    assert code == 0
    assert "meta-llama/Meta-Llama-3.1-8B" in out


# --- predict -------------------------------------------------------------------------------------


def test_predict_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "predict", "--model", "meta-llama/Meta-Llama-3.1-8B", "--hardware", "h100-sxm", "--json")
    assert data["ttft_s"] > 0 and data["tpot_s"] > 0
    assert data["output_tokens_per_s_per_chip"] > 0
    assert data["output_tokens_per_s_per_user"] == pytest.approx(1.0 / data["tpot_s"])
    assert data["chip"] == "h100-sxm" and data["chips"] == 1
    assert data["layout"]["tp"] == 1
    assert data["precision"]["gemm"] == "bf16"
    assert data["memory"]["weight_bytes"] == pytest.approx(2 * 8.03e9, rel=0.01)


def test_predict_mixed_checkpoint_formats(capsys: pytest.CaptureFixture[str]) -> None:
    """NVIDIA's DeepSeek-R1 FP4 checkpoint: NVFP4 routed experts, the rest BF16 (TensorRT-LLM tech blog 3,
    "~80 GB per GPU" at attention DP 8 + EP 8): --moe-precision sets the experts apart from --precision."""
    base = ["predict", "--model", "deepseek-ai/DeepSeek-R1", "--hardware", "gb200", "--dp", "8", "--ep", "8"]
    base += ["--kv-cache", "fp8", "--mode", "decode", "--batch", "1024", "--json"]
    all_fp4 = _json(capsys, *base, "--precision", "nvfp4")
    mixed = _json(capsys, *base, "--precision", "bf16", "--moe-precision", "nvfp4", "--attention", "bf16")
    assert mixed["precision"]["gemm"] == "bf16" and mixed["precision"]["moe_gemm"] == "nvfp4"
    assert mixed["precision"]["attention"] == "bf16" and all_fp4["precision"]["attention"] == "fp8"
    assert 75e9 < mixed["memory"]["weight_bytes"] < 85e9
    assert mixed["memory"]["weight_bytes"] > all_fp4["memory"]["weight_bytes"] + 15e9
    code, _, err = _run(capsys, *base, "--attention", "fp7")
    assert code == 2 and "unknown attention precision 'fp7'" in err and err.count("\n") == 1


def test_predict_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "predict", "--model", "meta-llama/Meta-Llama-3.1-8B", "--hardware", "h100-sxm")
    assert code == 0
    assert "TTFT" in out and "TPOT" in out


def test_predict_does_not_fit_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "predict", "--model", "meta-llama/Meta-Llama-3.1-405B", "--hardware", "h100-sxm")
    assert code == 2
    assert "does not fit" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_predict_chips_mismatch_is_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "predict", "--model", "meta-llama/Meta-Llama-3.1-8B", "--hardware", "hgx-h100", "--chips", "8"
    )
    assert code == 2
    assert "--chips" in err


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["catalog", "show", "h100-sx"], "h100-sxm"),
        (["catalog", "compare", "h100-sxm", "ascend-910"], "ascend-910"),
        (["models", "show", "deepseek-ai/DeepSeek-R2"], "deepseek-ai/DeepSeek-R1"),
        (["predict", "--model", "meta-llama/Meta-Llama-3.1-8", "--hardware", "h100-sxm"], "Meta-Llama-3.1-8B"),
        (["predict", "--model", "meta-llama/Meta-Llama-3.1-8B", "--hardware", "h100-sx"], "h100-sxm"),
    ],
)
def test_unknown_ids_exit_2_with_closest(capsys: pytest.CaptureFixture[str], argv: list[str], suggestion: str) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "closest" in lines[0]
    assert suggestion in lines[0]


def test_debug_reraises(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match="closest"):
        main(["--debug", "catalog", "show", "h100-sx"])


def test_malformed_user_catalog_yaml_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    (chips / "bad.yaml").write_text("id: bad\ncompute: {bf16: [unclosed\nmemory: : :\n", encoding="utf-8")
    code, out, err = _run(capsys, "--catalog", str(tmp_path), "catalog", "list")
    assert code == 2
    assert "bad.yaml" in err
    assert "Traceback" not in err + out


def _h100_yaml_without(field: str, new_id: str) -> str:
    """The bundled H100 YAML with a top-level block removed and the id renamed."""
    lines = (BUNDLED_CHIPS / "h100-sxm.yaml").read_text(encoding="utf-8").splitlines()
    kept: list[str] = []
    skipping = False
    for line in lines:
        top = line[:1] not in (" ", "#", "")
        if top:
            skipping = line.startswith(f"{field}:")
        if not skipping:
            kept.append(line)
    text = "\n".join(kept).replace("id: h100-sxm", f"id: {new_id}")
    assert f"\n{field}:" not in text
    return text + "\n"


def test_user_chip_missing_memory_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    (chips / "nomem.yaml").write_text(_h100_yaml_without("memory", "nomem"), encoding="utf-8")
    code, _, err = _run(capsys, "--catalog", str(tmp_path), "catalog", "show", "nomem")
    assert code == 2
    assert "nomem.yaml" in err
    assert "'memory'" in err and "missing" in err
    assert len(err.strip().splitlines()) == 1


def test_user_catalog_adds_a_chip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Adding a chip is a data-only change (DESIGN rule 1): a copy under a new id shows up in the CLI."""
    chips = tmp_path / "chips"
    chips.mkdir()
    text = (BUNDLED_CHIPS / "h100-sxm.yaml").read_text(encoding="utf-8").replace("id: h100-sxm", "id: my-h100")
    (chips / "my-h100.yaml").write_text(text, encoding="utf-8")
    data = _json(capsys, "--catalog", str(tmp_path), "catalog", "list", "--json")
    assert "my-h100" in {c["id"] for c in data["chips"]}


def test_missing_user_catalog_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--catalog", str(tmp_path / "nope"), "catalog", "list")
    assert code == 2
    assert "nope" in err


# --- validate ------------------------------------------------------------------------------------

CASE_KEYS = {"id", "metric", "hardware", "model", "status", "predicted", "measured", "error", "reason"}


def test_validate_filter_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "validate", "--filter", "hardware=h100-sxm", "--json")
    assert {"summary", "cases"} <= set(data)
    assert isinstance(data["summary"], dict)
    cases = data["cases"]
    assert cases, "the bundled set has H100 cases"
    for case in cases:
        assert set(case) >= CASE_KEYS, CASE_KEYS - set(case)
        assert case["hardware"] == "h100-sxm"
        if case["status"] == "ok":
            assert case["predicted"] > 0 and case["measured"] > 0
            # error is the signed relative error of the prediction
            assert case["error"] == pytest.approx(case["predicted"] / case["measured"] - 1.0, rel=1e-6, abs=1e-9)
        else:
            assert case["reason"]
    summary = data["summary"]
    assert summary["n_cases"] == len(cases)
    assert summary["n_supported"] == sum(1 for c in cases if c["status"] == "ok")


def test_unknown_option_is_a_usage_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--no-such-option", "1"]) == 2
    err = capsys.readouterr().err
    assert "No such option" in err and "Traceback" not in err


def test_plan_reads_slo_durations_with_units() -> None:
    from modelchip.cli.plan_cmd import make_slo

    slo = make_slo("2s", "50ms", False)
    assert (slo.ttft_s, slo.tpot_s) == (2.0, 0.05)
    assert make_slo("2000", "50", False) == slo  # a bare number is milliseconds


def test_predict_osl_cv_lengthens_the_batch_context(capsys: pytest.CaptureFixture[str]) -> None:
    base = ("predict", "--model", "deepseek-ai/DeepSeek-R1", "--hardware", "h200-sxm", "--chips", "8", "--dp", "8",
            "--ep", "8", "--isl", "1000", "--osl", "4000", "--batch", "512", "--json")  # fmt: skip
    fixed = _json(capsys, *base)
    spread = _json(capsys, *base, "--osl-cv", "1")
    assert spread["tpot_s"] > fixed["tpot_s"]
    code, _, err = _run(capsys, *base, "--osl-cv", "-1")
    assert code == 2 and "--osl-cv" in err and "\n" not in err.strip()

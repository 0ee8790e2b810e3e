"""Validation cases: parsing, precision shorthand, errors, filters and the runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelchip.errors import UserError
from modelchip.validate import (
    Case,
    Metric,
    Precision,
    Unsupported,
    apply_filter,
    expand_precision,
    load_cases,
    parse_filter,
    run_cases,
)


def _case(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "c1",
        "source": "a paper, https://arxiv.org/abs/2506.12708",
        "trust": "paper",
        "model": "deepseek-ai/DeepSeek-R1",
        "hardware": "ascend-910c",
        "system": "cloudmatrix384",
        "chips": 160,
        "engine": "cloudmatrix-infer",
        "precision": "int8",
        "mode": "decode",
        "parallel": {"tp": 1, "pp": 1, "dp": 160, "ep": 320, "moe_tp": 1},
        "workload": {"isl": 4096, "osl": 256, "batch_per_chip": 96},
        "metric": "decode_tokens_per_s_per_chip",
        "value": 1943,
    }
    base.update(over)
    return base


def _write(tmp_path: Path, data: Any, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _load_one(tmp_path: Path, **over: Any) -> Case:
    (case,) = load_cases([_write(tmp_path, [_case(**over)])])
    return case


def _load_error(tmp_path: Path, data: Any, name: str = "cases.yaml") -> str:
    with pytest.raises(UserError) as info:
        load_cases([_write(tmp_path, data, name)])
    return str(info.value)


# ------------------------------------------------------------------------------------ parsing


def test_every_field_parses(tmp_path: Path) -> None:
    c = _load_one(
        tmp_path,
        instances=2,
        speculative={"method": "mtp", "draft_tokens": 1, "acceptance": 0.7, "accept_length": 1.7},
        slo={
            "tpot_ms": 50,
            "ttft_ms": 2000,
            "ttft_ms_p99": 3000,
            "tpot_ms_p99": 80,
            "tokens_per_s_per_user": 20,
        },
        notes="MTP",
        workload={
            "isl": 222.3,
            "osl": 256,
            "concurrency": 128,
            "scenario": "poisson",
            "request_rate": 4.0,
            "prefix_cache_hit": 0.5,
            "kv_len": 4096,
            "num_requests": 1000,
            "tokens_per_chip": 16384,
        },
    )
    assert (c.id, c.trust, c.hardware, c.system, c.chips, c.instances) == (
        "c1", "paper", "ascend-910c", "cloudmatrix384", 160, 2,
    )  # fmt: skip
    assert c.metric is Metric.DECODE_TOKENS_PER_S_PER_CHIP and str(c.metric) == "decode_tokens_per_s_per_chip"
    assert c.value == 1943.0 and c.mode == "decode" and c.notes == "MTP"
    assert (c.parallel.tp, c.parallel.dp, c.parallel.ep, c.parallel.moe_tp) == (1, 160, 320, 1)
    w = c.workload
    assert (w.isl, w.osl, w.concurrency, w.scenario, w.request_rate) == (222.3, 256, 128, "poisson", 4.0)
    assert (w.prefix_cache_hit, w.kv_len, w.num_requests, w.tokens_per_chip) == (0.5, 4096, 1000, 16384)
    assert c.speculative is not None and c.speculative.accept_length == 1.7
    assert c.slo is not None and c.slo.tpot_ms == 50 and c.slo.tokens_per_s_per_user == 20
    assert c.slo.ttft_ms_p99 == 3000 and c.slo.tpot_ms_p99 == 80 and c.slo.ttft_ms == 2000


def test_defaults(tmp_path: Path) -> None:
    raw = _case(workload={"isl": 1000})
    del raw["parallel"], raw["system"]
    (c,) = load_cases([_write(tmp_path, [raw])])
    assert c.instances == 1 and c.system is None and c.speculative is None and c.slo is None
    assert (c.parallel.tp, c.parallel.pp, c.parallel.dp, c.parallel.ep, c.parallel.moe_tp) == (1, 1, 1, 1, 1)
    assert c.workload.prefix_cache_hit == 0.0 and c.workload.osl is None
    assert c.notes == ""


def test_case_is_frozen(tmp_path: Path) -> None:
    c = _load_one(tmp_path)
    with pytest.raises(ValueError):
        c.chips = 8  # type: ignore[misc]


@pytest.mark.parametrize(
    ("short", "weights", "activations", "kv_cache"),
    [
        ("fp8", "fp8", "fp8", "fp8"),
        ("fp8-ue8m0", "fp8-ue8m0", "fp8-ue8m0", "fp8"),
        ("mxfp8", "mxfp8", "mxfp8", "fp8"),
        ("int8", "int8", "int8", "bf16"),
        ("int4", "int4", "bf16", "bf16"),
        ("nvfp4", "nvfp4", "nvfp4", "fp8"),
        ("mxfp4", "mxfp4", "mxfp4", "bf16"),
        ("bf16", "bf16", "bf16", "bf16"),
        ("fp16", "fp16", "fp16", "fp16"),
    ],
)
def test_precision_shorthand(short: str, weights: str, activations: str, kv_cache: str) -> None:
    p = Precision.model_validate(short)
    assert (p.weights, p.activations, p.kv_cache, p.moe, p.attention) == (
        weights, activations, kv_cache, weights, None,
    )  # fmt: skip
    assert expand_precision(short)["kv_cache"] == kv_cache


def test_precision_mapping_fills_from_weights() -> None:
    p = Precision.model_validate({"weights": "nvfp4", "kv_cache": "fp8"})
    assert (p.weights, p.activations, p.kv_cache, p.moe) == ("nvfp4", "nvfp4", "fp8", "nvfp4")
    q = Precision.model_validate({"weights": "fp8", "activations": "fp8", "kv_cache": "bf16", "moe": "nvfp4"})
    assert (q.kv_cache, q.moe) == ("bf16", "nvfp4")
    r = Precision.model_validate({"weights": "mxfp4", "activations": "bf16", "attention": "fp8"})
    assert (r.activations, r.attention) == ("bf16", "fp8")


def test_bad_precision_names_field_and_choices(tmp_path: Path) -> None:
    msg = _load_error(tmp_path, [_case(precision="fp7")])
    assert "case c1" in msg and "'precision'" in msg and "fp7" in msg and "nvfp4" in msg
    msg = _load_error(tmp_path, [_case(precision={"weights": "int8", "kv_cache": "fp2"})])
    assert "case c1" in msg and "precision.kv_cache" in msg


def test_mapping_top_level_and_list_top_level(tmp_path: Path) -> None:
    as_list = load_cases([_write(tmp_path, [_case()], "a.yaml")])
    as_map = load_cases([_write(tmp_path, {"version": 1, "cases": [_case(id="c2")]}, "b.yml")])
    assert [c.id for c in as_list] == ["c1"] and [c.id for c in as_map] == ["c2"]


def test_json_input_and_several_files(tmp_path: Path) -> None:
    js = _write(tmp_path, {"cases": [_case(id="j1"), _case(id="j2")]}, "cases.json")
    ym = _write(tmp_path, [_case(id="y1")], "more.yaml")
    assert [c.id for c in load_cases([js, ym])] == ["j1", "j2", "y1"]


def test_disaggregated_pools(tmp_path: Path) -> None:
    c = _load_one(
        tmp_path,
        mode="disaggregated",
        metric="output_tokens_per_s",
        prefill={"workers": 2, "chips_per_worker": 4, "parallel": {"tp": 4}, "batch": 1},
        decode={"workers": 1, "chips_per_worker": 8, "parallel": {"tp": 8}, "batch": 64},
    )
    assert c.prefill is not None and c.decode is not None
    assert (c.prefill.workers, c.prefill.chips_per_worker, c.prefill.parallel.tp, c.prefill.batch) == (
        2,
        4,
        4,
        1,
    )
    assert (c.decode.parallel.tp, c.decode.parallel.ep, c.decode.batch) == (8, 1, 64)


def test_disaggregated_without_pools_is_an_error(tmp_path: Path) -> None:
    msg = _load_error(tmp_path, [_case(mode="disaggregated", prefill={"workers": 1, "chips_per_worker": 8})])
    assert "case c1" in msg and "decode" in msg


def test_unknown_fields_kept_and_ignored(tmp_path: Path) -> None:
    c = _load_one(
        tmp_path,
        row=7,
        source_value="14.8k per node",
        workload={"isl": 10, "mystery": True},
        speculative={"method": "mtp", "draft_tokens": 1, "simulated": True},
    )
    assert c.model_extra == {"row": 7, "source_value": "14.8k per node"}
    assert c.workload.model_extra == {"mystery": True}
    assert c.speculative is not None and c.speculative.model_extra == {"simulated": True}


# ------------------------------------------------------------------------------------ bad files


def test_missing_field_names_file_case_and_field(tmp_path: Path) -> None:
    raw = _case(id="no-chips")
    del raw["chips"]
    msg = _load_error(tmp_path, [raw])
    assert "cases.yaml" in msg and "case no-chips" in msg and "'chips'" in msg and "missing" in msg


def test_missing_nested_field(tmp_path: Path) -> None:
    msg = _load_error(tmp_path, [_case(workload={"osl": 10})])
    assert "case c1" in msg and "workload.isl" in msg


def test_missing_id_uses_index(tmp_path: Path) -> None:
    raw = _case()
    del raw["id"]
    msg = _load_error(tmp_path, [_case(id="first"), raw])
    assert "case #2" in msg and "'id'" in msg


def test_wrong_type(tmp_path: Path) -> None:
    msg = _load_error(tmp_path, [_case(chips="many")])
    assert "case c1" in msg and "'chips'" in msg and "many" in msg
    msg = _load_error(tmp_path, [_case(parallel={"tp": 0})])
    assert "parallel.tp" in msg
    msg = _load_error(tmp_path, [_case(value=-3)])
    assert "'value'" in msg


def test_unknown_metric_lists_allowed(tmp_path: Path) -> None:
    msg = _load_error(tmp_path, [_case(metric="tokens_per_joule")])
    assert "case c1" in msg and "'metric'" in msg and "tokens_per_joule" in msg
    assert "ttft_ms" in msg and "decode_tokens_per_s_per_chip" in msg


def test_duplicate_ids(tmp_path: Path) -> None:
    msg = _load_error(tmp_path, [_case(id="dup"), _case(id="dup")])
    assert "case dup" in msg and "duplicate" in msg
    a = _write(tmp_path, [_case(id="x")], "a.yaml")
    b = _write(tmp_path, [_case(id="x")], "b.yaml")
    with pytest.raises(UserError, match=r"b\.yaml: case x: duplicate id \(also in .*a\.yaml\)"):
        load_cases([a, b])


def test_malformed_yaml_and_bad_top_level(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: x\n  chips: [1,\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad\.yaml.*malformed"):
        load_cases([bad])
    assert "`cases`" in _load_error(tmp_path, {"items": []})
    assert "no cases" in _load_error(tmp_path, [])
    assert "mapping" in _load_error(tmp_path, ["just a string"])


def test_bundled_public_set_loads() -> None:
    cases = load_cases()
    assert len(cases) == 101
    assert len({c.id for c in cases}) == 101
    assert load_cases(None)[0].id == cases[0].id
    shared = Path("/work/shared/validation/cases.yaml")
    if shared.exists():
        assert [c.id for c in load_cases([shared])] == [c.id for c in cases]


# ------------------------------------------------------------------------------------ filters


def _three(tmp_path: Path) -> list[Case]:
    return load_cases(
        [
            _write(
                tmp_path,
                [
                    _case(id="a", hardware="h100-sxm", metric="tpot_ms", trust="mlperf"),
                    _case(id="b", hardware="ascend-910c", metric="tpot_ms", system=None),
                    _case(id="c", hardware="ascend-910c", metric="ttft_ms", engine="vllm"),
                ],
            )
        ]
    )


def test_filters(tmp_path: Path) -> None:
    cases = _three(tmp_path)

    def ids(text: str) -> list[str]:
        return [c.id for c in apply_filter(cases, parse_filter(text))]

    assert ids("") == ["a", "b", "c"]
    assert ids("hardware=ascend-910c,metric=tpot_ms") == ["b"]
    assert ids("metric=tpot_ms|ttft_ms") == ["a", "b", "c"]
    assert ids("hardware=h100-sxm, hardware=ascend-910c , metric=ttft_ms") == ["c"]
    assert ids("id=[ab]") == ["a", "b"] and ids("hardware=ascend-*") == ["b", "c"]
    assert ids("engine=VLLM") == ["c"] and ids("trust=mlperf") == ["a"] and ids("mode=decode") == ["a", "b", "c"]
    assert ids("system=cloudmatrix384") == ["a", "c"] and ids("model=deepseek-ai/*") == ["a", "b", "c"]


def test_filter_errors() -> None:
    with pytest.raises(UserError, match=r"filter key 'chip' is unknown; use one of: id, hardware"):
        parse_filter("chip=h100")
    with pytest.raises(UserError, match="key=value"):
        parse_filter("hardware")
    with pytest.raises(UserError, match="key=value"):
        parse_filter("hardware=")


# ------------------------------------------------------------------------------------ runner


def _fake(case: Case) -> float:
    if case.mode == "disaggregated":
        raise Unsupported("disaggregated serving is not modelled")
    return case.value * 1.1


def test_run_cases_ok_and_unsupported(tmp_path: Path) -> None:
    pools = {
        "prefill": {"workers": 1, "chips_per_worker": 8},
        "decode": {"workers": 1, "chips_per_worker": 8},
    }
    raw = [_case(id="ok1", value=200), _case(id="dis", mode="disaggregated", **pools)]
    cases = load_cases([_write(tmp_path, raw)])
    seen: list[tuple[int, int]] = []
    results = run_cases(cases, _fake, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    ok, dis = results
    assert ok.status == "ok" and ok.predicted == pytest.approx(220) and ok.error == pytest.approx(0.1)
    assert (ok.measured, ok.metric, ok.hardware) == (200, "decode_tokens_per_s_per_chip", "ascend-910c")
    assert (ok.trust, ok.mode) == ("paper", "decode")
    assert dis.status == "unsupported" and dis.predicted is None and dis.error is None
    assert dis.reason == "disaggregated serving is not modelled"


def test_invalid_prediction_is_unsupported(tmp_path: Path) -> None:
    (r,) = run_cases([_load_one(tmp_path)], lambda c: float("nan"))
    assert r.status == "unsupported" and "invalid value" in r.reason


def test_user_error_from_predictor_names_case(tmp_path: Path) -> None:
    def boom(case: Case) -> float:
        raise UserError("unknown chip id 'h999'")

    with pytest.raises(UserError, match=r"^case c1: unknown chip id 'h999'$"):
        run_cases([_load_one(tmp_path)], boom)


def test_bug_in_predictor_propagates_with_note(tmp_path: Path) -> None:
    def bug(case: Case) -> float:
        raise ZeroDivisionError("oops")

    with pytest.raises(ZeroDivisionError) as info:
        run_cases([_load_one(tmp_path)], bug)
    assert any("c1" in note for note in info.value.__notes__)


def test_cases_of_one_run_share_a_setup_key() -> None:
    """A run's throughput, TTFT and TPOT cases share their simulations (runner groups by this key)."""
    cases = {c.id: c for c in load_cases(None)}
    run = [cases[f"mlperf51-8xmi325x-llama2-70b-interactive{s}"] for s in ("", "-ttft", "-tpot")]
    assert len({c.metric for c in run}) == 3 and len({c.setup_key() for c in run}) == 1
    offline = cases["mlperf51-8xmi325x-llama2-70b-offline"]  # same system and model, another workload
    assert offline.setup_key() != run[0].setup_key()

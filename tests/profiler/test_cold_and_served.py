"""The profiler's honesty rules and the served kernels' loader, on the CPU: how many
distinct layers a cold measurement cycles, floors from the bytes a step moves, a time under
its floor refused, vLLM's file loaded with exactly the three names it imports stubbed, and
the decode and prefill parts of one device's runs joined into one result."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from m1eval.profiler import vllm_kernels
from m1eval.profiler.cold import (
    check_prefill,
    check_row,
    checked,
    enforce_floors,
    floor_s,
    layers_to_cycle,
    lightning_bytes,
    prefill_attainable_pct,
    prefill_bytes,
    softmax_bytes,
    spec_gbps,
)
from m1eval.profiler.report import merge

MiB = 1 << 20


def test_layers_to_cycle_spans_the_l2_several_times_and_fits_in_memory() -> None:
    l2 = 50 * MiB
    # batch 1 lightning state (4 MiB): the stack's 70 already span 280 MiB > 4 x 50 MiB
    assert layers_to_cycle(4 * MiB, 70, l2, free_bytes=70e9) == 70
    # a 1K-token softmax cache (4 MiB): 10 layers would sit in L2; 50 are cycled
    assert layers_to_cycle(4 * MiB, 10, l2, free_bytes=70e9) == 50
    # batch 128 states (512 MiB a layer) in 20 GB free: what fits in half of it
    assert layers_to_cycle(512 * MiB, 70, l2, free_bytes=20e9) == int(10e9 // (512 * MiB))
    assert layers_to_cycle(16_000 * MiB, 10, l2, free_bytes=20e9) == 2  # never fewer than 2


def test_floors_count_the_bytes_a_step_moves_at_the_fastest_bandwidth() -> None:
    read, written = lightning_bytes(1)
    state = 64 * 128 * 128 * 4
    assert read == state + 3 * 64 * 128 * 2 and written == state + 64 * 128 * 4
    kv_read, kv_written = softmax_bytes(1, 8192)
    assert kv_read == 2 * 8 * 8192 * 128 * 2 + 64 * 128 * 2 and kv_written == 64 * 128 * 2
    # 4 MB at the faster of read 3,000 GB/s and copy 2,500 GB/s
    assert floor_s(3e6, 1e6, 3000, 2500) == pytest.approx(4e6 / 3e12)
    assert floor_s(3e6, 1e6, 2000, 2500) == pytest.approx(4e6 / 2.5e12)


def test_a_time_under_its_floor_is_refused_by_name() -> None:
    assert checked(5e-6, 4e-6, "x") == (5e-6, None)
    assert checked(None, 4e-6, "x") == (None, None)
    value, why = checked(3e-6, 4e-6, "lightning decode, batch 8")
    assert value is None and "below its floor" in why and "lightning decode, batch 8" in why
    row = {"flash_s": 1e-6, "cudnn_s": 9e-6}
    check_row(row, ["flash_s", "cudnn_s"], 2e-6, "softmax decode")
    assert row["flash_s"] is None and row["cudnn_s"] == 9e-6
    assert len(row["below_floor"]) == 1 and "flash_s" in row["below_floor"][0]


def test_prefill_floor_and_the_share_of_the_ceiling_its_bytes_allow() -> None:
    """A 100K prefill reads q, k, v and writes o once: 4 x 1.68 GB in bf16 (twice that for
    vLLM's fp32). At 4,000 GB/s that is 1.68 ms; the chunked form's 6.44e11 FLOPs take
    0.86 ms at 750 TFLOP/s, so no kernel shows more than 51% of that ceiling; a time below
    its own floor is dropped by name, vLLM's against its fp32 bytes."""
    n = 102400 * 64 * 128
    assert prefill_bytes(1, 102400) == (3 * n * 2, n * 2)
    assert prefill_bytes(4, 102400, in_bytes=4, out_bytes=4) == (4 * 3 * n * 4, 4 * n * 4)
    flops = 6.44e11
    assert prefill_attainable_pct(flops, 4 * n * 2 / 4e12, 750) == pytest.approx(
        100 * (flops / 750e12) / (4 * n * 2 / 4e12))  # fmt: skip
    assert prefill_attainable_pct(flops, 1e-4, 750) == 100  # bound by its FLOPs: all of it
    ceil = {"read_gbps": 4000.0, "copy_gbps": 3000.0}
    row = {"ours_s": 1.5e-3, "fla_s": 5e-3, "vllm_s": 3e-3}
    check_prefill(row, 102400, 1, ceil, {"ours_s": 2, "fla_s": 2, "vllm_s": 4})
    assert row["prefill_floor_s"] == pytest.approx(4 * n * 2 / 4e12)
    assert row["ours_s"] is None and row["fla_s"] == 5e-3
    assert row["vllm_s"] is None  # 3 ms beats fp32's 3.36 ms floor
    assert [("ours_s" in w, "vllm_s" in w) for w in row["below_floor"]] == [(True, False),
                                                                            (False, True)]


def _result(read_gbps: float | None, device: str = "NVIDIA H200") -> dict:
    ceil = {"matmul_tflops": 750.0, "copy_gbps": 4000.0}
    if read_gbps:
        ceil["read_gbps"] = read_gbps
    return {
        "device": device, "ceilings": ceil,
        "rows": [{"context": 8192, "softmax_decode_flash_s": 9e-6,
                  "softmax_decode_cudnn_s": 8.5e-6, "lightning_prefill_ours_s": 1e-5,
                  "lightning_prefill_s": 5e-4}],
        "lightning_decode": {"triton_s": 2.5e-6, "vllm_s": 1.5e-6},
        "batched_decode": {
            "lightning": {"8": {"s": 12.9e-6, "vllm_s": 30e-6}},
            "softmax": [{"batch": 8, "context": 8192, "flash_s": 80e-6, "cudnn_s": 60e-6,
                         "best_s": 60e-6}]},
        "prefill_batches": [{"batch": 4, "context": 102400, "fla_s": 2e-2, "ours_s": 1e-3,
                             "vllm_s": 9e-3}],
    }  # fmt: skip


def test_any_result_loses_every_time_beyond_physics() -> None:
    """On an H200 (4,800 GB/s by its sheet): batch-8 lightning's 12.9 us moves its 67 MB of
    states faster than that (14.0 us); so do vLLM's 1.5 us decode (1.75 us), a 10 us prefill
    at 8K and a 1 ms batch-4 prefill at 100K, and vLLM's 9 ms batch-4 prefill against its
    fp32 bytes (11.2 ms). cuDNN's 60 us at batch 8 is under the 4,000 GB/s probes' floor
    (67 us) but within the sheet's (56 us): it stays, and is the fastest read of the result,
    so every floor shown is at its 4,476 GB/s. What is not beyond physics stays."""
    result = _result(read_gbps=4000.0)
    found = enforce_floors(result)
    batched = result["batched_decode"]
    assert batched["lightning"]["8"]["s"] is None and batched["lightning"]["8"]["vllm_s"] == 30e-6
    soft = batched["softmax"][0]
    assert soft["cudnn_s"] == soft["best_s"] == 60e-6 and soft["served_s"] == 80e-6
    assert result["lightning_decode"] == {"triton_s": 2.5e-6, "vllm_s": None}
    row = result["rows"][0]
    assert row["lightning_prefill_ours_s"] is None and row["lightning_prefill_s"] == 5e-4
    assert row["softmax_decode_cudnn_s"] == 8.5e-6
    assert result["prefill_batches"][0] == {"batch": 4, "context": 102400, "fla_s": 2e-2,
                                            "ours_s": None, "vllm_s": None}  # fmt: skip
    assert len(found) == 5 and result["floor_violations"] == found
    assert all("below its floor" in why for why in found)
    assert result["ceilings"]["floor_gbps"] == pytest.approx(sum(softmax_bytes(8, 8192)) / 60e-6
                                                             / 1e9)  # fmt: skip
    assert "batch 8, context 8192 cudnn_s" in result["ceilings"]["floor_set_by"]
    assert enforce_floors(result) == []  # nothing left to drop


def test_a_device_without_a_known_sheet_is_held_to_the_runs_probes() -> None:
    """Where the sheet is unknown the probes bound: cuDNN's 60 us goes under 67 us, and the
    floors stay at the probes' 4,000 GB/s."""
    assert spec_gbps("NVIDIA H200") == 4800 and spec_gbps("NVIDIA H100 80GB HBM3") == 3350
    assert spec_gbps("NVIDIA GH200 480GB") == 4900 and spec_gbps("Tesla T4") is None
    result = _result(read_gbps=4000.0, device="Some GPU")
    found = enforce_floors(result)
    assert result["batched_decode"]["softmax"][0]["cudnn_s"] is None and len(found) == 6
    assert result["ceilings"]["floor_gbps"] == 4000.0
    older = _result(read_gbps=None, device="Some GPU")  # no read ceiling: the copy's
    enforce_floors(older)
    assert older["batched_decode"]["softmax"][0]["cudnn_s"] is None


def test_a_time_dropped_against_the_probes_but_within_physics_is_restored() -> None:
    """The run drops what beats its probes (check_row keeps the value in ``dropped``; older
    runs only in the words of ``below_floor``). On load, a time that does not beat the sheet
    comes back, its record goes, and the floors are set by the fastest read."""
    result = _result(read_gbps=4000.0)
    soft = result["batched_decode"]["softmax"][0]
    soft["kv_floor_s"] = sum(softmax_bytes(8, 8192)) / 4e12
    check_row(soft, ["cudnn_s"], soft["kv_floor_s"], "softmax decode, batch 8, context 8192")
    assert soft["cudnn_s"] is None and soft["dropped"] == {"cudnn_s": 60e-6}
    words = {"batch": 8, "context": 16384, "cudnn_s": None, "flash_s": 160e-6,
             "below_floor": [checked(125.25e-6, 134e-6, "softmax decode, batch 8, context "
                                     "16384 cudnn_s")[1]]}  # fmt: skip
    result["batched_decode"]["softmax"].append(words)
    enforce_floors(result)
    assert soft["cudnn_s"] == 60e-6 and not soft["dropped"] and not soft["below_floor"]
    assert soft["kv_floor_s"] == pytest.approx(60e-6)  # the fastest read sets the floor
    assert words["cudnn_s"] == pytest.approx(125.25e-6) and words["below_floor"] is None
    assert words["best_s"] == words["cudnn_s"]
    beyond = _result(read_gbps=4000.0)["batched_decode"]["lightning"]["8"]
    check_row(beyond, ["s"], 16.8e-6, "lightning decode, batch 8")
    result["batched_decode"]["lightning"]["8"] = beyond
    enforce_floors(result)
    assert beyond["s"] is None  # 12.9 us is beyond the sheet: it stays dropped


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "benchmarks"
                                         / "results").glob("attention_latency_*.json")))
def test_no_committed_measurement_is_below_its_floor(path: Path) -> None:
    import json

    assert enforce_floors(json.loads(path.read_text())) == []


FAKE_LIGHTNING_ATTN = '''
from vllm.platforms import current_platform
from vllm.triton_utils import tl, triton
from vllm.v1.attention.backends.utils import PAD_SLOT_ID

IS_CUDA = current_platform.is_cuda()
PAD = PAD_SLOT_ID
HAVE_TRITON = (tl, triton)


def lightning_attention(q, k, v, ed, block_size=256, kv_history=None):
    return ("prefill", block_size, kv_history), None


def linear_decode_forward_triton(q, k, v, kv_caches, slope_rate, slot_idx, BLOCK_SIZE=32):
    return ("decode", kv_caches, slot_idx)
'''


def test_vllm_file_loads_with_only_its_three_imports_stubbed(tmp_path: Path) -> None:
    path = tmp_path / "lightning_attn.py"
    path.write_text(FAKE_LIGHTNING_ATTN)
    module = vllm_kernels.load(path)
    assert module.IS_CUDA is True and module.PAD == -1
    assert len(module.sha256) == 64 and module.path == str(path)
    assert not any(name in sys.modules for name in vllm_kernels.STUBBED)  # nothing left behind
    bufs = {"q": 1, "k": 2, "v": 3, "caches": ["c0", "c1"], "slots": "s"}
    assert vllm_kernels.decode_step(module, bufs, 1, "slopes") == ("decode", "c1", "s")
    with pytest.raises(FileNotFoundError):
        vllm_kernels.load(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("from vllm.model_executor.layers import something_else\n")
    with pytest.raises(ImportError):
        vllm_kernels.load(broken)
    assert not any(name in sys.modules for name in vllm_kernels.STUBBED)


def _part(**extra: object) -> dict:
    return {"device": "NVIDIA H100 80GB HBM3", "ceilings": {"copy_gbps": 3000.0,
            "read_gbps": 3300.0, "matmul_tflops": 780.0}, **extra}  # fmt: skip


def test_decode_and_prefill_parts_join_into_one_result() -> None:
    decode = _part(
        parts=["decode"], method="cold", gpu_bytes=80e9,
        rows=[{"context": 1024, "softmax_decode_flash_s": 2e-5, "kv_floor_s": 1.3e-6},
              {"context": 131072, "softmax_decode_flash_s": 1.7e-4, "kv_floor_s": 1.6e-4}],
        lightning_decode={"triton_s": 3e-6, "vllm_s": 8e-6, "floor_s": 2.6e-6},
        batched_decode={"lightning": {"1": {"s": 3e-6, "vllm_s": 8e-6}},
                        "softmax": [{"batch": 1, "context": 131072, "best_s": 1.7e-4,
                                     "served_s": 1.8e-4}]})  # fmt: skip
    prefill = _part(parts=["prefill"], rows=[{"context": 1024, "lightning_prefill_s": 1e-4},
                                             {"context": 131072, "lightning_prefill_s": 4e-3}])
    joined = merge([decode, prefill])
    assert joined["parts"] == ["decode", "prefill"]
    # the floor again at the joined bandwidth (here the parts' read probes, 3,300 GB/s)
    kv_floor = sum(softmax_bytes(1, 1024)) / 3300e9
    assert joined["rows"][0] == {"context": 1024, "softmax_decode_flash_s": 2e-5,
                                 "kv_floor_s": pytest.approx(kv_floor),
                                 "lightning_prefill_s": 1e-4}
    # the 100K integral, with our kernels and as served: 70 x lightning + 10 x softmax
    ours, served = joined["decode_100k"], joined["decode_100k_vllm"]
    assert ours["m1_stack_s"] < served["m1_stack_s"]
    assert ours["all_softmax_s"] == served["all_softmax_s"]  # flash for both
    assert joined["serving"]["m1"]["sequences"] == joined["serving_vllm"]["m1"]["sequences"]
    with pytest.raises(ValueError, match="different devices"):
        merge([decode, {**prefill, "device": "NVIDIA H200"}])


def test_a_later_batches_part_completes_the_100k_prefill_batches() -> None:
    """A run cut short at batch 4 (vLLM's kernel failing there) and a later ``batches`` part:
    joined by batch, the later part's measurements standing over the earlier's."""
    first = _part(parts=["all"], rows=[{"context": 102400, "lightning_prefill_s": 5e-3}],
                  prefill_batches=[{"batch": 1, "context": 102400, "fla_s": 5e-3, "ours_s": 3e-3},
                                   {"batch": 4, "context": 102400, "fla_s": 2e-2, "ours_s": 1.4e-2,
                                    "vllm_s": None,
                                    "vllm_error": "RuntimeError: illegal memory access"}])
    later = _part(parts=["batches"], rows=[{"context": 102400}],
                  prefill_batches=[{"batch": 4, "context": 102400, "fla_s": 2.1e-2,
                                    "ours_s": 1.5e-2, "vllm_s": 0.13, "vllm_error": None},
                                   {"batch": 8, "context": 102400, "fla_s": 4e-2,
                                    "ours_s": 3e-2}])  # fmt: skip
    joined = merge([first, later])
    assert [e["batch"] for e in joined["prefill_batches"]] == [1, 4, 8]
    assert joined["prefill_batches"][0]["ours_s"] == 3e-3  # only the earlier part has it
    assert joined["prefill_batches"][1]["vllm_s"] == 0.13
    assert joined["prefill_batches"][1]["vllm_error"] is None
    assert joined["rows"] == [{"context": 102400, "lightning_prefill_s": 5e-3}]


def test_a_part_run_again_stands_over_the_earlier_run() -> None:
    """An ``all`` run, then its prefill tuning and decode measured again with a newer
    kernel: joined in that order, the later part's tuning, decode and probes stand, what only
    the earlier run measured is kept, and every part's drops stay listed."""
    first = _part(parts=["all"], method="cold", graph_node_s=None,
                  rows=[{"context": 8192, "lightning_prefill_ours_s": 4e-4}],
                  prefill_tuning={"best": {"FORM": 0}},
                  lightning_decode={"triton_s": 4e-6, "floor_s": 1.9e-6},
                  floor_violations=["old drop"])  # fmt: skip
    later = _part(parts=["decode"], method="cold", graph_node_s=1.5e-6,
                  ceilings={"copy_gbps": 3100.0, "matmul_tflops": 770.0},
                  rows=[{"context": 8192, "softmax_decode_flash_s": 2e-5}],
                  prefill_tuning={"best": {"FORM": 2}},
                  lightning_decode={"triton_s": 3.5e-6, "floor_s": 1.8e-6},
                  floor_violations=["new drop", "old drop"])  # fmt: skip
    joined = merge([first, later])
    assert joined["prefill_tuning"] == {"best": {"FORM": 2}}
    assert joined["lightning_decode"]["triton_s"] == 3.5e-6
    assert joined["ceilings"]["copy_gbps"] == 3100.0
    assert joined["graph_node_s"] == 1.5e-6
    assert joined["rows"] == [{"context": 8192, "lightning_prefill_ours_s": 4e-4,
                               "softmax_decode_flash_s": 2e-5}]
    assert joined["floor_violations"] == ["old drop", "new drop"]
    assert joined["parts"] == ["all", "decode"]
    # a part run with its prefill configuration given timed no tuning: the earlier stands
    given = _part(parts=["batches"], prefill_tuning={
        "best": {"FORM": 0}, "configs": [{"FORM": 0, "s": None, "note": "tuned earlier"}]})
    timed = {"best": {"FORM": 2}, "configs": [{"FORM": 2, "s": 3e-3}]}
    assert merge([_part(prefill_tuning=timed), given])["prefill_tuning"] == timed
    assert merge([_part(), given])["prefill_tuning"] == given["prefill_tuning"]


def test_joined_floors_are_at_the_fastest_bandwidth_any_part_reached() -> None:
    """A decode part whose cuDNN batched decode read at 3,200 GB/s, then a prefill part whose
    own probes read slower: the joined floors stay at 3,200 GB/s (the last part's probes do
    not lower them), and every floor shown is at that bandwidth."""
    from m1eval.profiler.cold import prefill_bytes, softmax_bytes

    fast = sum(softmax_bytes(32, 131072)) / 3200e9
    decode = _part(parts=["decode"], method="cold",
                   ceilings={"copy_gbps": 2900.0, "read_gbps": 2800.0, "matmul_tflops": 750.0},
                   rows=[{"context": 131072, "softmax_decode_flash_s": 2e-4}],
                   lightning_decode={"triton_s": 3.4e-6, "floor_s": 2.6e-6},
                   batched_decode={"lightning": {"1": {"s": 3.4e-6}}, "softmax": [
                       {"batch": 32, "context": 131072, "cudnn_s": fast, "flash_s": 2 * fast}]})
    prefill = _part(parts=["batches"],
                    ceilings={"copy_gbps": 2976.0, "read_gbps": 2906.0, "matmul_tflops": 774.0},
                    rows=[{"context": 102400}],
                    prefill_batches=[{"batch": 1, "context": 102400, "ours_s": 2.5e-3,
                                      "fla_s": 6.2e-3, "prefill_floor_s": 2.25e-3}])  # fmt: skip
    joined = merge([decode, prefill])
    assert joined["ceilings"]["floor_gbps"] == pytest.approx(3200.0)
    assert "cudnn_s" in joined["ceilings"]["floor_set_by"]
    assert joined["ceilings"]["matmul_tflops"] == 774.0  # the later part's probes stand
    floor = joined["prefill_batches"][0]["prefill_floor_s"]
    assert floor == pytest.approx(sum(prefill_bytes(1, 102400)) / 3200e9)
    assert joined["prefill_batches"][0]["ours_s"] == 2.5e-3


def test_a_run_cut_short_after_its_decode_is_projected_on_load(tmp_path: Path) -> None:
    """The H200 run stopped in its prefill part, before the projections were written: they
    are made on load from its decode, as a complete run would have them."""
    import json

    from m1eval.profiler.report import load

    committed = Path(__file__).resolve().parents[2] / "benchmarks/results"
    result = json.loads((committed / "attention_latency_h200.json").read_text())
    whole = {k: result[k] for k in ("serving", "serving_vllm", "decode_100k")}
    for key in ("serving", "serving_vllm", "decode_100k", "decode_100k_vllm"):
        result.pop(key)
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(result))
    loaded = load(path)
    assert {k: loaded[k] for k in whole} == whole


def test_a_joined_result_names_the_kernel_behind_each_of_our_prefill_times(
        cli, tmp_path: Path) -> None:  # fmt: skip
    """A full run with the one-walk kernel, then a ``batches`` part with the warp-specialized
    one: joined, each of our prefill times keeps the configuration that timed it, and the
    tables name both where they differ (the 100K row shows the later part's batch 1)."""
    import json

    walk = {"C": 64, "BV": 64, "num_warps": 8, "STAGES": 3, "SEG": 0, "FORM": 0}
    ws = {"KERNEL": "ws", "WS": 1, "C": 64, "BV": 64, "num_warps": 4, "STAGES": 2, "SEG": 0,
          "FORM": 1}  # fmt: skip
    first = _part(
        parts=["all"], method="cold", gpu_bytes=80e9, prefill_tuning={"best": walk},
        rows=[{"context": c, "softmax_decode_flash_s": 3e-5, "lightning_prefill_s": 2e-3,
               "lightning_prefill_ours_s": 1e-3, "lightning_prefill_ours_config": walk}
              for c in (8192, 32768)] + [{"context": 102400, "softmax_decode_flash_s": 1.5e-4}],
        lightning_decode={"triton_s": 3e-6, "floor_s": 2.6e-6},
        batched_decode={"lightning": {"1": {"s": 3e-6}}, "softmax": []},
        prefill_batches=[{"batch": b, "context": 102400, "fla_s": 6e-3 * b, "ours_s": 3.4e-3 * b,
                          "ours_config": walk} for b in (1, 8)])  # fmt: skip
    later = _part(parts=["batches"], rows=[{"context": 102400}],
                  prefill_tuning={"best": ws, "configs": [{**ws, "s": 2.5e-3}]},
                  prefill_batches=[{"batch": b, "context": 102400, "fla_s": 6e-3 * b,
                                    "ours_s": 2.5e-3 * b, "ours_config": ws}
                                   for b in (1, 4)])  # fmt: skip
    paths = []
    for name, part in (("first", first), ("later", later)):
        paths += ["--from", tmp_path / f"{name}.json"]
        (tmp_path / f"{name}.json").write_text(json.dumps(part))
    res = cli("profile", "latency", *paths, "--results-dir", tmp_path / "out")
    assert res.code == 0, res.err
    out = " ".join(res.out.split())  # the console wraps long lines
    walk_name, ws_name = "form 0, BV 64, 8 warps, 3 stages", "warp-specialized, WS 1, BV 64"
    assert f"ours per context: at 8K, 32K: {walk_name}; at 100K: {ws_name}" in out
    assert f"ours at 100K per batch: at batch 1, batch 4: {ws_name}" in out
    assert f"at batch 8: {walk_name}" in out
    joined = json.loads((tmp_path / "out" / "profile-latency" / "attention_latency.json")
                        .read_text())  # fmt: skip
    assert [e["ours_config"] for e in joined["prefill_batches"]] == [ws, ws, walk]

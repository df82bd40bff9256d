"""Long-context preparation cost: binning and planning MRCR, tokenizing a 1M-token prompt.

Builds a synthetic OpenAI-MRCR mirror with the real size distribution (per needle count, 100
rows in each of the 8 o200k bins from 4K to 1M tokens: 2,400 rows, ~470M tokens for 2/4/8
needles), then, in a fresh process per needle count so peak memory is its own:

- cold load: parquet -> Arrow, streaming content checksum, o200k count of every prompt, binning;
- warm load: the same with the token-count cache filled;
- plan: render and hash every prompt (what `m1eval run` does before asking anything);
- peak RSS, against a baseline process that only imports m1eval, and against the prompt bytes.

Then tokenizes one ~1M-token prompt with o200k_base and truncates it to 120K tokens the way
LongBench-v2 does.

    python benchmarks/longcontext.py                 # full size (~2 GB of parquet in a temp dir)
    python benchmarks/longcontext.py --rows-per-bin 10 --needles 4
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from m1eval.suites.mrcr import BINS

HERE = Path(__file__).resolve()


def build_mirror(root: Path, rows_per_bin: int, needles: list[int], seed: int = 0) -> int:
    from m1eval.testing.mrcr_synth import answer_pool, make_row, write_parquet

    rng = random.Random(seed)
    pool = answer_pool(rng)
    total_chars = 0
    for n in needles:
        shards: dict[str, list[dict]] = {"0": [], "1": []}
        for low, high, _ in BINS:
            for i in range(rows_per_bin):
                # aim inside the bin, leaving room for the answer and the estimate's error
                target = int(low * 1.05 + (high * 0.9 - low * 1.05) * rng.random())
                row = make_row(rng, target, n, pool)
                total_chars += len(row["prompt"])
                shards["0" if i % 2 == 0 else "1"].append(row)
        for shard, rows in shards.items():
            write_parquet(root / "openai" / "mrcr" / f"{n}needle" / f"{n}needle_{shard}.parquet",
                          rows)  # fmt: skip
    return total_chars


def peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). Unlike ru_maxrss it is not inherited from a parent
    that forked us while holding gigabytes of synthetic rows."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


class MemorySampler:
    """Peak anonymous memory (the heap: what a process really holds) and peak file-backed
    resident memory (pages of memory-mapped Arrow files, which the kernel can drop), sampled
    every 20 ms."""

    def __init__(self) -> None:
        import threading

        self.anon_kb = 0
        self.file_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.02)

    def sample(self) -> None:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                self.anon_kb = max(self.anon_kb, int(line.split()[1]))
            elif line.startswith("RssFile:"):
                self.file_kb = max(self.file_kb, int(line.split()[1]))

    def stop(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join()
        self.sample()
        return round(self.anon_kb / 1024, 1), round(self.file_kb / 1024, 1)


def child(mode: str, data_dir: str, needles: int) -> None:
    """Runs in a fresh process; prints one JSON line."""
    started = time.perf_counter()
    sampler = MemorySampler()
    out: dict = {"mode": mode}
    if mode != "baseline":
        from m1eval.registry import get_suite
        from m1eval.runner import plan_samples

        suite = get_suite("mrcr", {"needles": needles})
        t0 = time.perf_counter()
        items, _ = suite.load(None, data_dir)
        out["load_s"] = round(time.perf_counter() - t0, 2)
        out["rows"] = len(items)
        out["bins"] = {label: sum(i.row["bin"] == label for i in items) for *_, label in BINS}
        out["tokens"] = sum(i.row["tokens_o200k"] for i in items)
        if mode == "plan":
            t0 = time.perf_counter()
            plan = plan_samples(suite, items, 1, "m", {"max_tokens": 8}, seed=None)
            out["plan_s"] = round(time.perf_counter() - t0, 2)
            out["planned"] = len(plan)
    else:
        import m1eval.runner
        import m1eval.suites  # noqa: F401
    out["wall_s"] = round(time.perf_counter() - started, 2)
    out["peak_anon_mb"], out["peak_file_mb"] = sampler.stop()
    out["peak_rss_mb"] = round(peak_rss_kb() / 1024, 1)
    print(json.dumps(out))


def run_child(mode: str, data_dir: Path, needles: int, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, str(HERE), "--child", mode, "--data-dir", str(data_dir),
         "--needles", str(needles)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tokenize_1m() -> dict:
    from m1eval.suites.longbench_v2 import truncate_middle
    from m1eval.testing.mrcr_synth import _text
    from m1eval.tokenizers import _o200k, o200k_encode

    rng = random.Random(1)
    text = "\n".join(_text(rng, 120) for _ in range(6000))
    t0 = time.perf_counter()
    ids = o200k_encode(text)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    truncated = _o200k().decode(truncate_middle(ids, 120_000))
    truncate_s = time.perf_counter() - t0
    return {
        "chars": len(text),
        "tokens": len(ids),
        "encode_s": round(encode_s, 2),
        "tokens_per_s": round(len(ids) / encode_s),
        "truncate_to_120k_s": round(truncate_s, 2),
        "truncated_chars": len(truncated),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows-per-bin", type=int, default=100)
    p.add_argument("--needles", default="2,4,8")
    p.add_argument("--workdir", type=Path, help="keep the synthetic mirror here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.data_dir, int(args.needles))
        return
    needles = [int(n) for n in args.needles.split(",")]
    with tempfile.TemporaryDirectory(prefix="m1eval-longctx-") as tmp:
        work = args.workdir or Path(tmp)
        data = work / "hf"
        env = {**os.environ, "HF_DATASETS_CACHE": str(work / "hf-cache"),
               "M1EVAL_CACHE_DIR": str(work / "m1eval-cache")}  # fmt: skip
        t0 = time.perf_counter()
        chars = build_mirror(data, args.rows_per_bin, needles)
        print(
            f"synthetic mirror: {len(needles) * 8 * args.rows_per_bin} rows, "
            f"{chars / 1e9:.2f} GB of prompt JSON, built in {time.perf_counter() - t0:.0f} s"
        )
        base = run_child("baseline", data, needles[0], env)
        print(f"baseline process (imports only): peak heap {base['peak_anon_mb']} MB")
        print("peak heap = anonymous memory; mapped = resident pages of memory-mapped Arrow files")
        print(f"{'needles':>7} {'rows':>5} {'Mtokens':>8} {'cold load':>10} {'heap':>7} "
              f"{'mapped':>7} {'warm load+plan':>15} {'heap':>7} {'mapped':>7}")  # fmt: skip
        for n in needles:
            cold = run_child("load", data, n, env)
            warm = run_child("plan", data, n, env)
            print(f"{n:>7} {cold['rows']:>5} {cold['tokens'] / 1e6:>8.1f} {cold['load_s']:>9.1f}s "
                  f"{cold['peak_anon_mb']:>6.0f}M {cold['peak_file_mb']:>6.0f}M "
                  f"{warm['load_s'] + warm['plan_s']:>14.1f}s {warm['peak_anon_mb']:>6.0f}M "
                  f"{warm['peak_file_mb']:>6.0f}M")  # fmt: skip
            assert all(v == args.rows_per_bin for v in cold["bins"].values()), cold["bins"]
        t = tokenize_1m()
        print(f"o200k_base on one prompt of {t['tokens']:,} tokens "
              f"({t['chars'] / 1e6:.1f} M chars): {t['encode_s']} s "
              f"({t['tokens_per_s']:,} tokens/s); middle-truncation to 120K tokens and decode: "
              f"{t['truncate_to_120k_s']} s")  # fmt: skip


if __name__ == "__main__":
    main()

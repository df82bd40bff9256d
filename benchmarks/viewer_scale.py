"""The run viewer at scale: a synthetic run of N samples (AIME-shaped records with 2 KB answers)
through `m1eval view`, then opened in headless Chromium: build time, sizes, time until the
table shows, a filter's redraw time and a full-text search's time.

    python benchmarks/viewer_scale.py               # 100,000 samples
    python benchmarks/viewer_scale.py --samples 20000
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from m1eval.reporting.viewer import build_viewer


def make_run(root: Path, n: int) -> Path:
    run = root / "aime24-synthetic"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(
        json.dumps({"run_id": run.name, "status": "complete", "config": {"suite": "aime24"}})
    )
    with open(run / "samples.jsonl", "w") as fh:
        for i in range(n):
            ok = i % 3 != 0
            fh.write(
                json.dumps(
                    {
                        "sample_id": f"{i:032x}",
                        "suite": "aime24",
                        "item_id": str(i // 32),
                        "repeat": i % 32,
                        "outcome": "scored" if ok else "model_failure",
                        "score": 1.0 if i % 2 else 0.0,
                        "extracted_answer": str(i % 997),
                        "answer": ("Step. " * 300) + f"\\boxed{{{i % 997}}}",
                        "reasoning": "Thinking. " * 100,
                        "completion_tokens": 700 + i % 100,
                        "finish_reason": "stop",
                        "error": None if ok else "no \\boxed{} answer",
                    }
                )
                + "\n"
            )
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=100_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="m1eval-bench-") as tmp:
        root = Path(tmp)
        run = make_run(root / "results", args.samples)
        t = time.perf_counter()
        build_viewer([str(run)], root / "site")
        built = time.perf_counter() - t
        site = root / "site" / run.name
        index_mb = (site / "index.js").stat().st_size / 1e6
        chunks_mb = sum(f.stat().st_size for f in site.glob("chunk-*.js")) / 1e6
        print(
            f"{args.samples:,} samples: built in {built:.1f} s; index.js {index_mb:.1f} MB, "
            f"{len(list(site.glob('chunk-*.js')))} chunks {chunks_mb:.0f} MB"
        )
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            print("(no chromium: the page timing is skipped)")
            return
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            page = browser.new_page()
            t = time.perf_counter()
            page.goto((site / "index.html").as_uri())
            page.wait_for_selector("#rows tr")
            shown = time.perf_counter() - t
            t = time.perf_counter()
            page.select_option("#f-outcome", "model_failure")
            page.wait_for_function(
                "document.querySelector('#count').textContent"
                f".startsWith('{(args.samples + 2) // 3} of')"
            )
            filtered = time.perf_counter() - t
            page.select_option("#f-outcome", "")
            # the page's own work for one filter change (filter, sort, draw the first page),
            # without the driver's round trips
            in_page = page.evaluate("""() => {
                const s = document.getElementById("f-outcome"), t = performance.now();
                s.value = "model_failure"; s.dispatchEvent(new Event("input"));
                const ms = performance.now() - t;
                s.value = ""; s.dispatchEvent(new Event("input"));
                return ms; }""")
            hits = sum(1 for i in range(args.samples) if i % 997 == 996)
            searches = []
            for _ in range(2):  # the first search loads the detail chunks, the second reuses
                page.fill("#f-search", "\\boxed{996}")
                t = time.perf_counter()
                page.click("#f-go")
                page.wait_for_function(
                    "document.querySelector('#count').textContent"
                    f".startsWith('{hits} of {args.samples} samples (search)')",
                    timeout=600_000,
                )
                searches.append(time.perf_counter() - t)
            print(
                f"table shown {shown:.2f} s after opening; outcome filter redrawn in "
                f"{filtered * 1e3:.0f} ms ({in_page:.0f} ms of it the page's own work); "
                "search in answers, reasoning and prompts: "
                f"{searches[0]:.1f} s (first), {searches[1]:.1f} s (again)"
            )
            browser.close()


if __name__ == "__main__":
    main()

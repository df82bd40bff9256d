#!/usr/bin/env bash
# One GPU run of the attention-latency profiler (each fits one device call's 10 minutes):
#
#   benchmarks/attention_latency.sh quick     # numerics, prefill tuning, checks at 100K
#                                             # (the tuned configuration is kept in /tmp for a
#                                             # prefill part run next on the same machine)
#   benchmarks/attention_latency.sh decode    # cold decode (single, batched, ours and vLLM's)
#   benchmarks/attention_latency.sh prefill   # prefill per context and at 100K for batch 1/4/8
#   benchmarks/attention_latency.sh batches   # prefill at 100K for batch 1/4/8 only
#   benchmarks/attention_latency.sh decode,batches   # parts joined with commas, in one call
#   PREFILL_CONFIG='{"BV": 64, ...}' ...      # the prefill kernel's configuration given: no
#                                             # tuning (an earlier part's tuning stands)
#   PROFILE_FLEX=0 PROFILE_TUNE_BUDGET_S=120 benchmarks/attention_latency.sh all
#                                             # all three in one call, FlexAttention left out
#                                             # (it compiles each shape anew) and said so
#
# Needs, beside the checkout: .whl/ holding fla-core 0.6.0 and einops wheels (pip download
# --no-deps), and .vllm/lightning_attn.py copied from a vLLM 0.23 wheel
# (vllm/model_executor/layers/lightning_attn.py; unzip it from `pip download --no-deps
# vllm==0.23.0`). Writes $OUT/attention_latency_<part>.json; `m1eval profile latency --from
# A.json --from B.json` joins the parts into one result.
set -euo pipefail
part="${1:?quick, decode, prefill, batches or all}"
if ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export VLLM_LIGHTNING="${VLLM_LIGHTNING:-$PWD/.vllm/lightning_attn.py}"
export PROFILE_PARTS="$part" PYTHONUNBUFFERED=1
# what is left unmeasured at this deadline is named as such, and what was measured is kept
export PROFILE_DEADLINE="${PROFILE_DEADLINE:-$(( $(date +%s) + ${PROFILE_SECONDS:-540} ))}"
export OUT="${OUT:-.}"
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem --format=csv,noheader || true
name="${part//,/_}"  # parts joined with commas: no comma in a file's name
python3 benchmarks/attention_latency.py 2>&1 | tee "$OUT/log_$name.txt"
mv "$OUT/attention_latency.json" "$OUT/attention_latency_$name.json"

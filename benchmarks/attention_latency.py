"""GPU latency of lightning vs softmax attention at MiniMax-M1 shapes (see
m1eval/profiler/latency.py). Needs a CUDA GPU, PyTorch, Triton and fla-core:

    python benchmarks/attention_latency.py          # writes $OUT/attention_latency.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from m1eval.profiler.latency import main

if __name__ == "__main__":
    main()

"""The lm-evaluation-harness bridge: ``m1eval run --suite lm-eval:<task>`` and the ``m1eval``
model for lm-eval's own command line (``python -m m1eval.lmeval``)."""

PREFIX = "lm-eval:"

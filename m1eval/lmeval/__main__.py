"""``python -m m1eval.lmeval ARGS``: lm-eval's command line with the ``m1eval`` model."""

from __future__ import annotations

import m1eval.lmeval.model  # noqa: F401  (registers the model)


def main() -> None:
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    main()

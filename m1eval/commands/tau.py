"""``m1eval tau replay``: execute TAU-bench actions on a fresh database."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from m1eval import boundedjson
from m1eval.errors import DataError

HELP = "TAU-bench environment tools"


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import Parser

    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    replay = sub.add_parser("replay", help="execute actions on a fresh database")
    replay.add_argument("--domain", required=True, choices=["airline", "retail"])
    replay.add_argument("--actions", required=True, type=Path,
                        help='JSON list: [{"name": ..., "kwargs": {...}}]')
    replay.add_argument("--data-dir", help="tau-bench data (DIR/<domain>/...)")
    replay.add_argument("--dump-db", type=Path, help="write the final database as JSON")
    replay.add_argument("--json", action="store_true",
                        help="one JSON object per action: step, action, observation")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.fsutil import atomic_write_json, read_user_text
    from m1eval.suites.tau_bench import find_tau_dir
    from m1eval.tau.env import load_domain, replay

    data = load_domain(args.domain, find_tau_dir(args.domain, args.data_dir))
    text = read_user_text(args.actions, "actions file")
    try:
        actions = boundedjson.loads(text, max_depth=32)
    except ValueError as exc:
        raise DataError(f"actions file {args.actions}: {exc}") from None
    if not isinstance(actions, list) or not all(
        isinstance(a, dict) and isinstance(a.get("name"), str) for a in actions
    ):
        raise DataError(f'{args.actions}: expected a list of {{"name": ..., "kwargs": {{...}}}}')
    observations, env = replay(data, actions)
    for i, (action, obs) in enumerate(zip(actions, observations, strict=True)):
        if args.json:
            print(json.dumps({"step": i, "action": action["name"], "observation": obs}))
        else:
            kwargs = json.dumps(action.get("kwargs") or {}, ensure_ascii=False)
            print(f"[{i}] {action['name']}({kwargs}) -> "
                  f"{obs if obs is not None else '(no observation)'}")  # fmt: skip
    if args.dump_db:
        atomic_write_json(args.dump_db, env.db)
    return 0

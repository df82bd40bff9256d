"""``m1eval sandbox build | status``: the Docker sandbox for model-written code."""

from __future__ import annotations

import argparse

HELP = "the Docker sandbox for model-written code"


def add_parser(parser: argparse.ArgumentParser) -> None:
    from m1eval.commands.args import Parser

    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    build = sub.add_parser("build", help="build the sandbox image (no registry needed)")
    build.add_argument("--mirror", default="http://deb.debian.org/debian", help="Debian mirror")
    build.add_argument("--release", default="bookworm", help="Debian release")
    build.add_argument("--from-registry", action="store_true",
                       help="build FROM python:3.11-slim instead")
    build.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    sub.add_parser("status", help="is the daemon reachable, is the image there")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from m1eval.sandbox.image import IMAGE, build_image, docker_client, image_exists

    client = docker_client()
    exists = image_exists(client)
    if args.action == "status":
        version = client.version().get("Version")
        print(f"docker daemon {version}; image {IMAGE}: {'present' if exists else 'missing'}")
        return 0 if exists else 1
    if exists and not args.force:
        print(f"{IMAGE} already exists (--force rebuilds it)")
        return 0
    image_id = build_image(mirror=args.mirror, release=args.release,
                           from_registry=args.from_registry)  # fmt: skip
    print(f"built {IMAGE} ({image_id[:19]})")
    return 0

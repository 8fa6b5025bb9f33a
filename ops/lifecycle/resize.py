"""`python -m ops resize <slug> --size small|medium|large --env ENV [--write]` (seed 4.2 tiers).

The same machinery as `ops promote`: the config change is judged before it is written, and any
replacement refuses it. A class change up or down is in place; it interrupts (see the output).

Exit codes: 0 done / dry run OK, 1 refused, 2 bad input, 3 nothing to do (already that size).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from config.schema import SIZE_TO_INSTANCE_CLASS
from ops.cli import add_command
from ops.lifecycle import config_change as cc
from ops.lifecycle.promote import ChangeRequest, add_common_arguments, run_request


def resize_request(slug: str, env: str, size: str, config_dir: Path | None = None) -> ChangeRequest:
    _, environment = cc.load(env, slug, config_dir)
    restaurant = environment.restaurant(slug)
    if restaurant.resolved_size == size:
        raise cc.NothingToDo(
            f"restaurant {slug!r} in {env!r} is already {size} ({restaurant.instance_class})"
        )
    return ChangeRequest(
        verb="resize",
        env=env,
        slug=slug,
        edits={"size": size},
        summary=f"resize {slug} from {restaurant.resolved_size} ({restaurant.instance_class}) "
        f"to {size} ({SIZE_TO_INSTANCE_CLASS[size]})",
        rerun=f"python -m ops resize {slug} --size {size} --env {env} --write",
        config_dir=config_dir,
    )


def run(args: argparse.Namespace) -> int:
    return run_request(
        "resize", lambda: resize_request(args.slug, args.env, args.size, args.config_dir), args
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "resize",
        "change a restaurant's database size (seed 4.2), judged before it is written",
        __doc__,
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--size", required=True, choices=sorted(SIZE_TO_INSTANCE_CLASS), help="the new size"
    )
    parser.set_defaults(func=run)

"""Command-line pieces shared by the benchmark tools."""

import argparse
import json

from tools.benchlib.workload import ORDERS


def add_order_argument(parser):
    parser.add_argument(
        "--order", choices=ORDERS, default="time",
        help="time (default): events come in the order they happened, "
        "give or take a minute, as a deployment sends them; random: each "
        "at a random time of its half, so that every batch writes into "
        "all 30 days")


def not_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def say(text):
    print(text, flush=True)


def finish(result, failures, json_path, success):
    """The end of a benchmark's run: record ``failures`` in ``result``,
    write it to ``json_path`` (if given), print the failures (the first
    50) or ``success``; return the exit status."""
    result["failures"] = failures
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2)
    for failure in failures[:50]:
        say(f"FAILED {failure}")
    if failures:
        return 1
    say(success)
    return 0

"""Command-line pieces shared by the benchmark tools."""

import argparse

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

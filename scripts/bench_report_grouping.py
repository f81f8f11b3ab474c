"""How the gap report's grouping of unanswered questions scales with distinct wordings.

Every wording shares three common words ("weather sensor support") and differs in two
rare ones, the case that made grouping compare each wording with every earlier group.
Prints the seconds per size and per 1,000 wordings: flat per-1,000 figures mean linear.

    .venv/bin/python scripts/bench_report_grouping.py [--sizes 2500 5000 10000 20000]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime

from bookrag.feedback.grouping import Asked, group_questions


def wordings(count: int, seed: int = 7) -> list[Asked]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    return [
        Asked(None, f"weather sensor support w{rng.randrange(10**9)} x{i}", now)
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2500, 5000, 10000, 20000])
    args = parser.parse_args()
    print(f"{'wordings':>9} {'groups':>7} {'seconds':>8} {'s per 1k':>9}")
    for size in args.sizes:
        asked = wordings(size)
        started = time.perf_counter()
        gaps = group_questions(asked)
        took = time.perf_counter() - started
        print(f"{size:>9} {len(gaps):>7} {took:>8.2f} {took / size * 1000:>9.3f}")


if __name__ == "__main__":
    main()

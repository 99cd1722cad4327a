"""How long plan checks take: examples/checks.yaml over plans of growing size.

    python benchmarks/bench_checks.py [--changes 100 1000 5000]

The checks are evaluated by cel-python's interpreter, once per (rule, change) in scope;
this prints the time to load (and compile) the file and the time per evaluation, so the
evaluation bound (`MAX_EVALUATIONS`, `DEADLINE_SECONDS`) can be judged against real figures.
Measured, not asserted.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from fbplan.checks import evaluate, load_checks

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "checks.yaml"
KINDS = (
    ("bucket", {"bucket": "shop-media", "storage_type": "S3", "region": "us-east-1"}),
    ("repo_api_key", {"access": "WRITE"}),
    ("policy", {"scope": "workspace", "risk": "HIGH", "action": "block", "content": "x"}),
    ("repo", {"storage_type": "S3", "mode": "NORMAL", "buckets": [], "ai_llms": []}),
)


def document(changes: int) -> dict[str, Any]:
    items = []
    for i in range(changes):
        kind, after = KINDS[i % len(KINDS)]
        blank = {"fields": [], "reasons": [], "new_credentials": False, "protect": False}
        items.append(
            {"address": f"{kind}.n{i}", "kind": kind, "action": "create", **blank}
            | {"before": None, "after": after, "live_id": None}
        )
    return {"workspace": "bench-prod", "summary": {"create": changes}, "changes": items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, nargs="+", default=[100, 1000, 5000])
    args = parser.parse_args()
    started = time.perf_counter()
    checks = load_checks(EXAMPLES)
    print(f"load and compile {len(checks.rules)} rules: {time.perf_counter() - started:.2f} s")
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for changes in args.changes:
        plan = document(changes)
        started = time.perf_counter()
        results = evaluate(checks, plan)
        elapsed = time.perf_counter() - started
        per = elapsed / max(results.evaluations, 1) * 1e6
        print(
            f"{changes:>6} changes: {results.evaluations:>6} evaluations in {elapsed:6.2f} s "
            f"({per:.0f} us each)"
        )


if __name__ == "__main__":
    main()

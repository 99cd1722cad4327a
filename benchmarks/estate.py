"""A generated estate: a spec of about N resources shaped like a real workspace.

    python benchmarks/estate.py --resources 10000 OUT_FOLDER

Per repository: two buckets, the repo, two storage keys, one AI key and one AI policy
(every other one at repo scope, the rest at workspace scope): 7 resources. Beside them the
workspace and one AI LLM every repo uses. Bucket secrets come from one file (`bucket.secret`)
or, with `distinct_secrets`, one file per bucket. The spec is one file (`spec.yaml`), or
with `files=F` a folder of F files, the repos split between them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PER_REPO = 7  # 2 buckets, the repo, 2 storage keys, 1 AI key, 1 policy
SHARED = 2  # the workspace and the AI LLM


def repos_for(resources: int) -> int:
    """How many repos make about `resources` resources."""
    return max(1, (resources - SHARED) // PER_REPO)


def resource_count(repos: int) -> int:
    return SHARED + PER_REPO * repos


def _bucket(i: int, j: int, secret: str) -> str:
    return (
        f"  b{i}-{j}: {{bucket: estate-{i}-{j}, storage_type: S3, region: us-east-1, "
        f'key: AKIAESTATE, secret: "${{file:{secret}}}"}}'
    )


def _repo(i: int) -> list[str]:
    return [
        f"  r{i}:",
        "    storage_type: S3",
        "    mode: NORMAL",
        f"    buckets: [{{bucket: b{i}-0, folder: data, master: true}}, "
        f"{{bucket: b{i}-1, folder: logs}}]",
        "    ai_llms: [llm]",
        "    api_keys: {rw: {access: WRITE}, ro: {access: READ}}",
        "    ai_api_keys: {ai: {ai_type: OPENAI}}",
    ]


def _policy(i: int) -> str:
    scope = f"repo:r{i}" if i % 2 == 0 else "workspace"
    return (
        f'  p{i}: {{scope: "{scope}", risk: LOW, action: log, '
        f'content: "Log prompts that name project {i}."}}'
    )


def _part(repos: range, secret_of: dict[int, str]) -> list[str]:
    lines = ["buckets:"]
    lines += [_bucket(i, j, secret_of[i * 2 + j]) for i in repos for j in (0, 1)]
    lines.append("repos:")
    lines += [line for i in repos for line in _repo(i)]
    lines.append("policies:")
    lines += [_policy(i) for i in repos]
    return lines


def write_estate(
    folder: Path,
    repos: int,
    *,
    files: int = 1,
    distinct_secrets: bool = False,
) -> Path:
    """Write the spec into `folder` (with `files` > 1, into `folder/spec/`); returns the
    path to plan: the file, or the folder of files."""
    root = folder / "spec" if files > 1 else folder
    root.mkdir(parents=True, exist_ok=True)
    (root / "bucket.secret").write_text("estate-bucket-secret\n")
    secret_of = {n: "bucket.secret" for n in range(repos * 2)}
    if distinct_secrets:
        (root / "secrets.d").mkdir(exist_ok=True)
        for n in secret_of:
            secret_of[n] = f"secrets.d/b{n}"
            (root / secret_of[n]).write_text(f"estate-bucket-secret-{n}\n")
    head = [
        "version: 1",
        "workspace: estate",
        "ai_llms:",
        "  llm: {ai_type: OPENAI, endpoint: 'https://api.openai.com/v1', "
        "secret: '${file:bucket.secret}'}",
        "secrets:",
        "  sink: {type: json, path: secrets.json}",
    ]
    if files <= 1:
        path = root / "spec.yaml"
        path.write_text("\n".join(head + _part(range(repos), secret_of)) + "\n")
        return path
    (root / "00-main.yaml").write_text("\n".join(head) + "\n")
    for n in range(files):
        part = range(n * repos // files, (n + 1) * repos // files)
        (root / f"{n + 1:02d}-repos.yaml").write_text("\n".join(_part(part, secret_of)) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--distinct-secrets", action="store_true")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    repos = repos_for(args.resources)
    path = write_estate(args.out, repos, files=args.files, distinct_secrets=args.distinct_secrets)
    print(f"{path}: {resource_count(repos)} resources ({repos} repos)")


if __name__ == "__main__":
    main()

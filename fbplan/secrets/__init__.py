"""Secrets, in one place for plan, apply and smoke.

    values        Secret, Sourced and the process-wide redaction every output goes through
    sinks         where a key's once-shown secret is kept (dotenv, JSON, AWS Secrets Manager)
    fingerprints  salted hashes that tell whether a write-only secret changed
    envnames      environment variable names made from resource addresses

Planning reads sinks and fingerprints (is a secret held? did it change?), apply writes
them, smoke reads the keys back: none of them needs the others' stage.
"""

"""The contract's fast checks: one generated module per contract file (do not edit them;
scripts/gen_schema_check.py writes them from fbplan/contract/*.json)."""

"""scripts/gen_schema_check.py, loaded as a module: the tests of the code it generates (the
spec's check and the contract's checks) run it and compare with what is committed."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_schema_check.py"


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_schema_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

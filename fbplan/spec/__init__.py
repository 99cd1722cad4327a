"""The spec stage: YAML file or folder -> a validated, interpolated `Spec`.

    load_spec(path, cli_vars=..., env=..., require_env=...) -> Spec   (raises SpecError)

`loader` reads the files and locates any path's file:line:column, `interpolate` resolves
`${env:}`, `${file:}` and `${var:}` (secret fields become `Secret`s), and `validate`
checks the JSON Schema (`schema_path()`) and the references between resources.
"""

from __future__ import annotations

from pathlib import Path

from fbplan.spec.interpolate import SECRET_FIELDS, is_secret_field
from fbplan.spec.loader import (
    NAMED_SECTIONS,
    PRUNE_KINDS,
    Location,
    PathKey,
    Spec,
    format_path,
    load_spec,
)
from fbplan.spec.validate import load_schema, schema_resource

__all__ = [
    "NAMED_SECTIONS",
    "PRUNE_KINDS",
    "SECRET_FIELDS",
    "Location",
    "PathKey",
    "Spec",
    "format_path",
    "is_secret_field",
    "load_schema",
    "load_spec",
    "schema_path",
]


def schema_path() -> Path:
    """The packaged JSON Schema file (`fbplan/schemas/fbplan.schema.json`).

    A real path for a normal or editable install; for a zipped package, read it with
    `load_schema()` instead.
    """
    return Path(str(schema_resource()))

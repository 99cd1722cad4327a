"""`fbplan validate`: the spec alone, no backend; imports only the spec stage, to start fast."""

from __future__ import annotations

import click

from fbplan.cli.console import err, out, parse_vars, user_errors
from fbplan.cli.options import var_option
from fbplan.cli.stacks import single_spec, specs_argument, stack_parallelism_option
from fbplan.spec.build import load_desired, spec_warnings


@click.command()
@specs_argument
@var_option
@stack_parallelism_option
def validate(specs: tuple[str, ...], variables: tuple[str, ...], stack_parallelism: int) -> None:
    """Check SPEC: schema, references, secret fields. Exit 0 valid, 1 invalid.

    Needs no backend and no secrets: unset ${env:} variables are warnings here.
    """
    spec = single_spec("validate", specs)
    with user_errors():
        loaded, desired = load_desired(spec, cli_vars=parse_vars(variables), require_env=False)
        for warning in [*map(str, loaded.warnings), *spec_warnings(loaded, desired)]:
            err(f"warning: {warning}")
        out(f"{spec}: valid ({len(desired)} resources).")

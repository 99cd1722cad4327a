"""`python -m fbplan` runs the command line."""

from fbplan.cli.main import main

main()

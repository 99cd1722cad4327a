"""The command line: thin click commands that parse, call a stage, render and exit."""

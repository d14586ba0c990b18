"""The `ibc` command line: argument parsing, messages and exit codes only."""

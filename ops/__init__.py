"""Command-line tools for what the CDK CLI does not do: `python -m ops <command> --help`."""

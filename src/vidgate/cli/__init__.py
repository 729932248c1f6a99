"""The `vidgate` command."""

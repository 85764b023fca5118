"""The ``oodforge`` command line (Typer + rich)."""

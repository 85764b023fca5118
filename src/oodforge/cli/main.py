"""Entry point: ``oodforge <verb>``. Each verb lives in its own module and calls one library function."""

from __future__ import annotations

import typer

from oodforge import __version__

app = typer.Typer(
    name="oodforge",
    help="Anomaly segmentation toolkit for driving scenes: synthesize, inspect, score, evaluate, learn.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oodforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Anomaly segmentation toolkit for driving scenes."""


def _register() -> None:
    from oodforge.cli import benchmark_cmd, eval_cmd, export_cmd, inspect_cmd, learn_cmd, render_cmd, synth_cmd
    from oodforge.cli.report_cmd import register as register_report_cmd
    from oodforge.cli.submit_cmd import register as register_submit_cmd

    synth_cmd.register(app)
    inspect_cmd.register(app)
    eval_cmd.register(app)
    learn_cmd.register(app)
    render_cmd.register(app)
    export_cmd.register(app)
    benchmark_cmd.register(app)
    register_submit_cmd(app)
    register_report_cmd(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

"""The floor for a Typer CLI: a bare one-command Typer app, started as a script.

benchmarks/bench.py times ``python benchmarks/bare_typer.py --name x`` next to convcalc's
one-off queries: convcalc cannot start faster than Typer itself does.
"""

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def hello(name: str = typer.Option("world", "--name", help="Who to greet.")) -> None:
    """Print one line."""
    print(f"hello {name}")


if __name__ == "__main__":
    app()

"""The two rich consoles every command prints through.

Results go to stdout, messages and errors to stderr, so ``--json`` output stays
clean when piped. Rich drops colour and live animation by itself when the
stream is not a terminal (or ``NO_COLOR`` is set).
"""

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", soft_wrap=True)


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def counting_bar() -> Progress:
    """The documents commands' progress bar on stderr: a description, the bar, done of total, time elapsed."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def report(bar: Progress, outcome: str, message: str) -> None:
    """One line above the bar, `outcome` in red: `message` (paths, failure reasons) as written, never wrapped."""
    bar.console.print(f"[red]{outcome}[/red] {escape(message)}", soft_wrap=True)

"""The `citeqa` command line: flags become a `Config` (`options`), each command calls the library.

The top layer with ui.py: may import everything in qa, never ui (`citeqa serve` finds the chat
through the `citeqa.chat` entry point).
"""

from qa.cli.main import main

__all__ = ["main"]

"""`citeqa serve`: start the chat. The chat (ui.py) sits above the CLI, so it is found through the
`citeqa.chat` entry point that the package declares, never imported by name."""

from __future__ import annotations

import os
from importlib.metadata import entry_points

from qa.cli.arg_types import positive_int
from qa.cli.options import UsageError, add_answer_flags, add_index_flags, config_from

CHAT_ENTRY_POINTS = "citeqa.chat"


def add_serve_flags(p) -> None:
    """The chat's flags, shared by `citeqa serve` and `python ui.py`."""
    p.add_argument("--host", default=None, help="address to listen on (default $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=positive_int, default=None, help="port (default $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--allow-uploads", action="store_true", default=None,
                   help="let the chat's users add and remove documents (default: read-only); beyond 127.0.0.1 it needs --auth")
    p.add_argument("--max-upload-chunks", type=positive_int, default=None, metavar="N",
                   help="refuse an upload of more than N passages (default 2000, about 20 s of embedding); use citeqa index")
    p.add_argument("--auth", default=None, metavar="USER:PASSWORD",
                   help="require this login (default $CITEQA_AUTH; none)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a host name the chat answers to besides loopback and --host (repeatable); requests naming any "
                        "other host are refused, which stops DNS-rebinding pages")
    add_index_flags(p)
    add_answer_flags(p)


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="open the chat in the browser (Gradio)")
    add_serve_flags(p)


def host_and_port(args) -> tuple[str, int]:
    """The flags, else Gradio's environment variables, else 127.0.0.1:7860."""
    host = args.host if args.host is not None else os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    if args.port is not None:
        return host, args.port
    raw = os.environ.get("GRADIO_SERVER_PORT", "7860")
    try:
        return host, positive_int(raw)
    except Exception:
        raise UsageError(f"GRADIO_SERVER_PORT must be a port number, got {raw!r}") from None


def login_from(args) -> tuple[str, str] | None:
    """The chat's login from --auth, else $CITEQA_AUTH (USER:PASSWORD); None: no login."""
    text = args.auth if args.auth is not None else os.environ.get("CITEQA_AUTH")
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not (sep and user and password):
        raise UsageError("--auth (or CITEQA_AUTH) must be USER:PASSWORD, both non-empty")
    return user, password


def chat_server():
    """The function that serves the chat, `serve(config, host=..., port=...)`, from the installed entry point."""
    found = entry_points(group=CHAT_ENTRY_POINTS)
    if not found:
        raise UsageError("the chat is not installed (no 'citeqa.chat' entry point): install citeqa with pip install .")
    return next(iter(found)).load()


def run_serve(args, models) -> int:
    host, port = host_and_port(args)
    config = config_from(args)
    chat_server()(config, host=host, port=port, embedder=models.embedder(config), auth=login_from(args),
                  extra_hosts=args.allowed_host)
    return 0

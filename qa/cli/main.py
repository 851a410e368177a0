"""`citeqa`: the parser of every subcommand, and the boundary where errors become one line and an exit status."""

from __future__ import annotations

import argparse
import sys

from qa.cli.ask_command import add_ask, run_ask
from qa.cli.chat_command import add_chat, run_chat
from qa.cli.eval_command import add_eval, run_eval
from qa.cli.export_command import add_export, run_export
from qa.cli.index_commands import add_index, add_info, run_index, run_info
from qa.cli.options import Models, UsageError, set_offline_environment
from qa.cli.serve_command import add_serve, run_serve
from qa.cli.training_commands import (
    add_average_readers,
    add_calibrate_early_stop,
    add_calibrate_reader,
    add_train_calibrator,
    add_export_reader,
    add_quantize_reader,
    add_train_reader,
    run_average_readers,
    run_calibrate_early_stop,
    run_calibrate_reader,
    run_train_calibrator,
    run_export_reader,
    run_quantize_reader,
    run_train_reader,
)

# name: (adds the subparser, runs it)
COMMANDS = {
    "index": (add_index, run_index), "ask": (add_ask, run_ask), "chat": (add_chat, run_chat), "info": (add_info, run_info),
    "export": (add_export, run_export),
    "eval": (add_eval, run_eval), "serve": (add_serve, run_serve),
    "train-reader": (add_train_reader, run_train_reader), "export-reader": (add_export_reader, run_export_reader),
    "average-readers": (add_average_readers, run_average_readers),
    "calibrate-reader": (add_calibrate_reader, run_calibrate_reader),
    "calibrate-early-stop": (add_calibrate_early_stop, run_calibrate_early_stop),
    "quantize-reader": (add_quantize_reader, run_quantize_reader),
    "train-calibrator": (add_train_calibrator, run_train_calibrator),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citeqa", description="Extractive question answering over your articles, with citations.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: list[str] | None = None, *, embedder=None) -> int:
    """Run one command; `embedder` hands in an already loaded embedding model (else the flags' one loads)."""
    set_offline_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][1](args, Models(embedder))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the boundary: one clear line unless --debug
        if args.debug:
            raise
        print(f"citeqa: error: {err}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The citeqa chat: ask the indexed articles in a browser and see each answer's sources.

Run `python ui.py` (or `citeqa serve`) and open http://127.0.0.1:7860.
"""

from __future__ import annotations

import argparse
import html
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

EXAMPLES = [
    "In which city is the Stargate data center being built?",
    "How much is the initial investment in Stargate?",
    "Which companies stood alongside Trump during the announcement?",
    "Who is the CEO of OpenAI?",
]


def highlight(citation) -> str:
    """The citation's passage, escaped, with the answer span in <mark>."""
    a, b = citation.answer_start_in_passage, citation.answer_end_in_passage
    passage = citation.passage
    if b <= a:
        return html.escape(passage)
    return html.escape(passage[:a]) + "<mark>" + html.escape(passage[a:b]) + "</mark>" + html.escape(passage[b:])


def render_answer(answer) -> str:
    """The chat reply: the answer in bold with its confidence, then numbered collapsible sources."""
    parts = []
    if answer.text is None:
        parts.append("The documents don't say.")
        if answer.citations:
            parts.append("Closest passages found:")
    else:
        parts.append(f"**{html.escape(answer.text)}** (confidence {answer.confidence:.0%})")
    for number, citation in enumerate(answer.citations, start=1):
        details = [html.escape(d) for d in (citation.date, citation.source) if d]
        if citation.page is not None:
            details.append(f"page {citation.page}")
        summary = f"[{number}] {html.escape(citation.title)}" + (f" — {', '.join(details)}" if details else "")
        parts.append(f"<details><summary>{summary}</summary>\n\n<p>{highlight(citation)}</p>\n\n</details>")
    return "\n\n".join(parts)


def build_app(assistant):
    """The Gradio app over one `Assistant`; the chat endpoint is `/chat`."""
    import gradio as gr

    from qa.pipeline import EmptyQuestionError

    def chat(message: str, history: list) -> str:
        try:
            return render_answer(assistant.answer(message))
        except EmptyQuestionError as err:
            return str(err).capitalize() + "."
        except Exception as err:  # shown in the chat, never a broken page
            return f"Sorry, something went wrong: {html.escape(str(err))}"

    return gr.ChatInterface(
        chat,
        title="citeqa",
        description="Ask the articles. Every answer is a span copied from a source, with its citation.",
        examples=EXAMPLES,
        api_name="chat",
        fill_height=True,
    ).queue(default_concurrency_limit=4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="citeqa chat in the browser")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--index", default=None, help="index folder (default: the bundled articles)")
    args = parser.parse_args(argv)

    from qa.config import Config
    from qa.pipeline import Assistant

    assistant = Assistant.from_config(Config(index_dir=args.index))
    assistant.answer(EXAMPLES[0])  # load the models before the first user waits
    build_app(assistant).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()

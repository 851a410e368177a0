"""Follow-up questions in a chat: a short question that leans on an earlier one is retrieved together with it.

"Who funds it?" alone retrieves nothing useful; after "What is Stargate?" it should search for
"What is Stargate? Who funds it?". The reader still reads only the follow-up itself, so the answer
is a span for the question the user typed; retrieval gets the context, and so do the answer calibrator's
text features (how well the answer's sentence matches the question's words and names), which would
otherwise judge "Who funds it?" by the one word "funds".

The rule is deterministic and small, so it is easy to predict:

1. The first question of a chat is never a follow-up.
2. A question that opens with a continuation ("and ...", "what about ...", "how about ...",
   "also ...", "but ...", "so ...", "then ...") is a follow-up.
3. A question of more than `MAX_FOLLOWUP_WORDS` words is not.
4. A short question with a referring word ("it", "that", "they", "his", "those", ...) is a follow-up.
5. A short question with at most one content word and no name of its own (a capitalised word after the
   first, or a number) is a follow-up: "Why?", "How much?", "Which city?".
6. Anything else stands alone.

A follow-up is retrieved with its *anchor*: the nearest earlier question that stands alone (so a chain
"What is Stargate?" / "Who funds it?" / "How much?" keeps searching around Stargate). A wrong guess
costs little: the question's own words are still in the search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_FOLLOWUP_WORDS = 8

CONTINUATIONS = (
    ("and",), ("also",), ("but",), ("so",), ("then",), ("what", "about"), ("how", "about"),
)

REFERRING = frozenset("""
it its it's itself that that's this these those they they're them their theirs themselves
he he's him his himself she she's her hers herself such same former latter
""".split())

FUNCTION_WORDS = REFERRING | frozenset("""
what what's which who who's whom whose when when's where where's why why's how how's
is are was were be been being am do does did done doing have has had having will would shall should
can could may might must
a an the of in on at to for from by with about as into onto over under than then there here
and or but not no so also too very just only ever yet still
i me my we us our you your one ones any some much many more most other another else
""".split())

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def words(question: str) -> list[str]:
    """The words of a question, in order, with their case (apostrophes normalised to ')."""
    return [w.replace("’", "'") for w in _WORD.findall(question)]


def is_followup(question: str) -> bool:
    """Whether a question leans on an earlier one (rules 2-6 of the module's docstring)."""
    tokens = words(question)
    lower = [t.lower() for t in tokens]
    if not lower:
        return False
    if any(tuple(lower[: len(opening)]) == opening for opening in CONTINUATIONS):
        return True
    if len(lower) > MAX_FOLLOWUP_WORDS:
        return False
    if any(w in REFERRING for w in lower):
        return True
    names_something = any(t[0].isupper() for t in tokens[1:]) or any(ch.isdigit() for ch in question)
    content = [w for w in lower if w not in FUNCTION_WORDS]
    return not names_something and len(content) <= 1


def anchor_question(question: str, previous_questions: Sequence[str]) -> str | None:
    """The earlier question a follow-up leans on (the nearest that stands alone), or None if `question`
    is not a follow-up or there is nothing before it."""
    if not is_followup(question):
        return None
    earlier = [q for q in previous_questions if q and q.strip()]
    for position in range(len(earlier) - 1, -1, -1):
        if position == 0 or not is_followup(earlier[position]):
            return " ".join(earlier[position].split())
    return None


def retrieval_query(question: str, previous_questions: Sequence[str]) -> str | None:
    """What to search for: the anchor question followed by `question` for a follow-up; None when the
    question stands alone (search for the question itself)."""
    anchor = anchor_question(question, previous_questions)
    if anchor is None:
        return None
    return f"{anchor} {' '.join(question.split())}"

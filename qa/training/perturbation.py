"""Rewrite an answerable question into one its own paragraph cannot answer (a pure function).

SQuAD 2.0's unanswerable questions are written against the paragraph they are asked of; about a third
of them negate the question or swap a word for its antonym (Rajpurkar et al. 2018, table 3). These two
edits are the ones a rule makes safely: the paragraph must use the original word and never its
antonym (nor any word starting with it), and a negated question is only made when the paragraph
holds no negation at all, so the rewritten question asks for something the paragraph does not say.
"""

from __future__ import annotations

import re

# Pairs whose swap turns a question about a stated fact into one about an unstated one. Verb pairs
# (start/end, win/lose) are left out: paragraphs answer both sides of those too often.
ANTONYM_PAIRS = (
    ("first", "last"), ("largest", "smallest"), ("most", "least"), ("highest", "lowest"),
    ("earliest", "latest"), ("maximum", "minimum"), ("larger", "smaller"), ("longer", "shorter"),
    ("older", "younger"), ("oldest", "youngest"), ("higher", "lower"), ("best", "worst"),
    ("increase", "decrease"), ("increased", "decreased"), ("north", "south"), ("east", "west"),
    ("northern", "southern"), ("eastern", "western"), ("above", "below"), ("inside", "outside"),
    ("legal", "illegal"), ("positive", "negative"), ("biggest", "tiniest"),
)


def _both_ways(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    table: dict[str, str] = {}
    for a, b in pairs:
        table.setdefault(a, b)
        table.setdefault(b, a)
    return table


ANTONYMS = _both_ways(ANTONYM_PAIRS)

# Auxiliaries before a main verb ("What did X build?"): negating a copula ("Who was not the first
# president?") often leaves a question the paragraph answers with any other name it holds.
# The contracted form is grammatical wherever the auxiliary stands ("What didn't X build?").
_NEGATED_AUXILIARY = {"did": "didn't", "does": "doesn't", "do": "don't", "can": "can't", "could": "couldn't",
                      "will": "won't", "would": "wouldn't", "should": "shouldn't"}
_AUXILIARY = re.compile(r"\b(" + "|".join(_NEGATED_AUXILIARY) + r")\b(?!')", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|neither|without|cannot)\b|n't", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+")


def _matching_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word.capitalize() if like[0].isupper() else word


def antonym_swap(question: str, context: str) -> str | None:
    """The question with its first swappable word replaced by the antonym; None when no word qualifies.
    Capitalised words inside the question are names and the question's last word is usually a verb:
    neither is swapped."""
    context_words = {w.lower() for w in _WORD.findall(context)}
    question_words = {w.lower() for w in _WORD.findall(question)}
    for match in _WORD.finditer(question):
        word = match.group().lower()
        antonym = ANTONYMS.get(word)
        if antonym is None or word not in context_words or antonym in question_words:
            continue
        if match.group() != word and match.start() > 0:  # a name ("South Africa"), not an adjective
            continue
        if not question[match.end():].strip(" ?"):  # a verb at the end ("How long did it last?")
            continue
        if any(w.startswith(antonym) for w in context_words):
            continue
        return question[: match.start()] + _matching_case(antonym, match.group()) + question[match.end():]
    return None


def negated(question: str, context: str) -> str | None:
    """The question with its first auxiliary negated ("did" -> "didn't"); None when the question or the
    paragraph already negates something or the question has no auxiliary."""
    if _NEGATION.search(question) or _NEGATION.search(context):
        return None
    match = _AUXILIARY.search(question)
    if match is None:
        return None
    auxiliary = match.group()
    return question[: match.start()] + _matching_case(_NEGATED_AUXILIARY[auxiliary.lower()], auxiliary) + question[match.end():]


def perturbed_question(question: str, context: str) -> str | None:
    """An unanswerable rewrite of `question` against `context`: the antonym swap if one applies, else the
    negation; None when neither does."""
    swapped = antonym_swap(question, context)
    return swapped if swapped is not None else negated(question, context)

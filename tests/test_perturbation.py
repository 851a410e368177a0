"""Question rewrites that the question's own paragraph cannot answer."""

import pytest

from qa.training.perturbation import ANTONYMS, antonym_swap, negated, perturbed_question

CONTEXT = "Beyonce released her first album in 2003. It was the largest debut of the year."


@pytest.mark.parametrize("question, expected", [
    ("When did Beyonce release her first album?", "When did Beyonce release her last album?"),
    ("What was the largest debut?", "What was the smallest debut?"),
    ("First, who sang?", "Last, who sang?"),                   # case follows the original word
    ("What was the first and largest?", "What was the last and largest?"),  # only the first qualifying word
])
def test_antonym_swap_replaces_a_paragraph_word_with_its_antonym(question, expected):
    assert antonym_swap(question, CONTEXT) == expected


@pytest.mark.parametrize("question, context", [
    ("What was her first album?", "Her first and last albums sold well."),      # the paragraph says both
    ("What was her first album?", "Her first album lasted on the charts."),     # a word starting with "last"
    ("What was her most famous song?", "Her song was famous."),                 # "most" is not in the paragraph
    ("What was the first or last album?", "Her first album sold well."),        # the question holds the antonym
    ("Where was the album recorded?", CONTEXT),                                 # nothing to swap
    ("Where is South Sudan?", "South Sudan is in Africa."),                    # a name, not an adjective
    ("When was the FIRST album out?", CONTEXT),                                 # capitals: an acronym or name
    ("How long did the tour last?", "The tour lasted a year, the last one."),   # a verb, last word
])
def test_antonym_swap_declines_when_the_paragraph_could_answer_the_rewrite(question, context):
    assert antonym_swap(question, context) is None


def test_antonym_table_is_symmetric():
    assert all(ANTONYMS[antonym] == word for word, antonym in ANTONYMS.items())


@pytest.mark.parametrize("question, expected", [
    ("What did Beyonce release in 2003?", "What didn't Beyonce release in 2003?"),
    ("What does the album contain?", "What doesn't the album contain?"),
    ("Which songs can fans hear?", "Which songs can't fans hear?"),
    ("What will happen next?", "What won't happen next?"),
    ("DID she tour?", "DIDN'T she tour?"),
])
def test_negated_contracts_the_first_auxiliary(question, expected):
    assert negated(question, "Beyonce released an album in 2003. Fans heard it on the radio.") == expected


@pytest.mark.parametrize("question, context", [
    ("What did she release?", "She did not release a second album."),   # the paragraph negates something
    ("What did she release?", "She never toured."),
    ("What did she release?", "It wasn't a hit."),
    ("Why didn't she tour?", "She released an album."),                  # the question is negated already
    ("What was released in 2003?", "She released an album in 2003."),    # no auxiliary (copulas are left)
])
def test_negated_declines(question, context):
    assert negated(question, context) is None


def test_perturbed_question_prefers_the_antonym_and_falls_back_to_negation():
    assert perturbed_question("What was her first album called?", "She released her first album.") == (
        "What was her last album called?")
    assert perturbed_question("What did she release?", "She released her album.") == "What didn't she release?"
    assert perturbed_question("Who sang?", "She sang. She did not dance.") is None

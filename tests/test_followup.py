"""The follow-up rule: which chat questions are retrieved together with an earlier one."""

from __future__ import annotations

import pytest

from qa.answering.followup import MAX_FOLLOWUP_WORDS, anchor_question, is_followup, retrieval_query, words


@pytest.mark.parametrize("question", [
    "Who funds it?",
    "When was that announced?",
    "Where is it being built?",
    "What did they say?",
    "Who leads those companies?",
    "Is he the CEO?",
    "How big is this?",
    "Why?",
    "When?",
    "How much?",
    "Which city?",
    "And Oracle?",                       # continuation, even with a name
    "what about SoftBank?",
    "How about the costs in Texas?",
    "Also, who else joined?",
    "And how much money did OpenAI, Oracle and SoftBank promise to put into the venture?",  # long, but "and ..."
    "Did Musk like it?",                 # a name, but it leans on "it"
    "It’s where?",                       # curly apostrophe
])
def test_followups(question):
    assert is_followup(question)


@pytest.mark.parametrize("question", [
    "In which city is the Stargate data center being built?",
    "How much is the initial investment in Stargate?",
    "Which companies stood alongside Trump during the announcement?",
    "Who is the CEO of OpenAI?",
    "What is Stargate?",                 # one content word, but it names its subject
    "Who is Sam Altman?",
    "What happened in 2025?",            # a number names something
    "Who funds the new artificial intelligence venture announced by the president?",  # no referring word
    "",
    "?!",
    "Which company said that Musk called the deal a bad investment for America?",  # long: "that" not counted
])
def test_standalone_questions(question):
    assert not is_followup(question)


def test_length_limit_applies_to_referring_words():
    short = " ".join(["it"] + ["word"] * (MAX_FOLLOWUP_WORDS - 1))
    long = " ".join(["it"] + ["word"] * MAX_FOLLOWUP_WORDS)
    assert is_followup(short)
    assert not is_followup(long)


def test_words_keep_case_and_contractions():
    assert words("Who's OpenAI’s CEO, really?") == ["Who's", "OpenAI's", "CEO", "really"]
    assert words("  ") == []


def test_first_question_is_never_a_followup():
    assert retrieval_query("Who funds it?", []) is None
    assert retrieval_query("Who funds it?", ["", "   "]) is None


def test_standalone_question_searches_for_itself():
    assert retrieval_query("Who is the CEO of OpenAI?", ["What is Stargate?"]) is None


def test_followup_is_searched_with_the_previous_question():
    assert retrieval_query("Who funds it?", ["What is Stargate?"]) == "What is Stargate? Who funds it?"


def test_whitespace_is_normalised():
    assert retrieval_query("  Who   funds it? ", ["  What is\n Stargate? "]) == "What is Stargate? Who funds it?"


def test_chain_of_followups_keeps_the_standalone_anchor():
    history = ["What is Stargate?", "Who funds it?", "When was that announced?"]
    assert anchor_question("How much?", history) == "What is Stargate?"
    assert retrieval_query("How much?", history) == "What is Stargate? How much?"


def test_anchor_is_the_nearest_standalone_question():
    history = ["What is Stargate?", "Who is the CEO of OpenAI?", "Why?"]
    assert anchor_question("And when?", history) == "Who is the CEO of OpenAI?"


def test_when_every_earlier_question_is_a_followup_the_first_one_anchors():
    assert anchor_question("Why?", ["Who funds it?", "How much?"]) == "Who funds it?"


def test_blank_history_entries_are_ignored():
    assert anchor_question("Who funds it?", ["What is Stargate?", "", "  "]) == "What is Stargate?"


def test_deterministic():
    history = ["What is Stargate?", "Who funds it?"]
    assert {retrieval_query("When was that announced?", history) for _ in range(5)} == {
        "What is Stargate? When was that announced?"}

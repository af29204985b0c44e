"""The chat model's prompt-reply pairs from chatterbot-corpus and the ALICE AIML set."""

import re

from keras_lstm.zoo import dialogue_pairs


def test_chatterbot_pairs_follow_each_conversation():
    pairs = dialogue_pairs.chatterbot_pairs()
    assert 1100 < len(pairs) < 1400
    assert len(set(pairs)) == len(pairs)
    assert ("What is a computer?", "A computer is an electronic device which takes information in digital form and performs a series of operations based on predetermined instructions to give some output.") in pairs


def test_aiml_pairs_are_fixed_questions_with_fixed_answers():
    pairs = dialogue_pairs.aiml_pairs()
    assert 50000 < len(pairs) < 60000
    assert len(set(pairs)) == len(pairs)
    assert not [p for p, _ in pairs if re.search(r"[*_]", p)]
    assert not [r for _, r in pairs if "<" in r or not r.strip()]

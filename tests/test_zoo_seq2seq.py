"""The seq2seq network's decoders and its step model, checked against direct computation."""

import itertools

import numpy as np
import pytest
from keras import ops

from keras_lstm.zoo import seq2seq

CONFIG = {"vocabulary": 7, "embedding": 6, "encoder_units": 5, "decoder_units": 4, "dropout": 0.0}


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "lexical"])
def network(request):
    import keras

    keras.utils.set_random_seed(3)
    net = seq2seq.Network({**CONFIG, "lexical": request.param})
    # Larger weights than the initialisers give, so the scores differ clearly.
    layers = [net.logits, net.combine] + ([net.lexical_logits, net.lexical_hidden] if request.param else [])
    for layer in layers:
        layer.kernel.assign(layer.kernel * 4.0)
    return net


def step_log_probabilities(network, source, prefix):
    """log P(next | source, prefix) by running the step model from BOS, one token at a time."""
    mask, memory, keys, h, c = seq2seq._run_encoder(network, [source])
    token = seq2seq.BOS
    for next_token in [None] + list(prefix):
        if next_token is not None:
            token = next_token
        logits, h, c, _ = network.decode_step(np.array([[token]], "int32"), h, c, memory, keys, mask)
    logits = logits.astype("float64")
    logits = logits[0] - logits[0].max()
    return logits - np.log(np.exp(logits).sum())


def exhaustive_best(network, source, max_length, length_penalty):
    """The EOS-terminated sequence of at most max_length steps with the best normalised score."""
    allowed = [t for t in range(CONFIG["vocabulary"]) if t not in (seq2seq.PAD, seq2seq.BOS, seq2seq.EOS)]
    log_p = {}  # prefix -> log P(next | source, prefix), each prefix run once

    def next_log_p(prefix):
        if prefix not in log_p:
            log_p[prefix] = step_log_probabilities(network, source, prefix)
        return log_p[prefix]

    best, best_score = None, -np.inf
    for length in range(1, max_length + 1):
        for body in itertools.product(allowed, repeat=length - 1):
            score = sum(next_log_p(body[:k])[body[k]] for k in range(len(body)))
            score += next_log_p(body)[seq2seq.EOS]
            if score / length**length_penalty > best_score:
                best, best_score = list(body), score / length**length_penalty
    return best

def test_beam_search_with_a_wide_beam_finds_the_best_sequence(network):
    rng = np.random.default_rng(0)
    sources = [list(rng.integers(4, 7, size)) for size in (3, 5, 2)]
    # 60 beams keep all 16 three-step prefixes and rank every one of their 7 continuations
    # (beam search looks at the best 2 * beam_size candidates): the search is exhaustive.
    found = seq2seq.beam_search(network, sources, beam_size=60, length_penalty=1.0, max_length=3)
    for source, sequence in zip(sources, found):
        assert sequence == exhaustive_best(network, source, 3, 1.0)


def test_greedy_takes_the_most_likely_token_each_step(network):
    source = [4, 5, 6, 5]
    decoded, attention = seq2seq.greedy(network, [source], max_length=5)
    prefix = []
    for _ in range(5):
        log_p = step_log_probabilities(network, source, prefix)
        log_p[[seq2seq.PAD, seq2seq.BOS]] = -np.inf
        token = int(np.argmax(log_p))
        if token == seq2seq.EOS:
            break
        prefix.append(token)
    assert decoded[0] == prefix
    assert attention[0].shape[1] == len(source)
    np.testing.assert_allclose(attention[0].sum(axis=1), 1.0, rtol=1e-5)


def test_teacher_forcing_equals_decoding_step_by_step(network):
    # The training model (whole sequences, padding, masks) and the step model
    # (one token, explicit state) compute the same probabilities.
    pairs = [([4, 5, 6], [5, 4]), ([6, 4], [4, 6, 6, 5])]
    (source, target_in), target_out = seq2seq.Batches.collate(pairs)
    logits = ops.convert_to_numpy(network.training([source, target_in], training=False)).astype("float64")
    for row, (src, tgt) in enumerate(pairs):
        for position in range(len(tgt) + 1):
            expected = step_log_probabilities(network, src, tgt[:position])
            actual = logits[row, position] - logits[row, position].max()
            actual -= np.log(np.exp(actual).sum())
            np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_subwords_round_trip():
    texts = ["Das ist ein Haus.", "This is a house.", "Ich kann nicht folgen.", "I cannot follow."] * 20
    subwords = seq2seq.Subwords.train(texts, 60)
    ids = subwords.encode("Das ist ein Haus.")
    assert min(ids) > seq2seq.EOS
    assert subwords.decode(ids) == "Das ist ein Haus."
    again = seq2seq.Subwords(subwords.model_bytes)
    assert again.encode("I cannot follow.") == subwords.encode("I cannot follow.")


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_smoothed_cross_entropy_is_the_mean_over_real_tokens(smoothing):
    targets = np.array([[5, 2, 0, 0], [1, 3, 4, 0]])
    logits = np.random.default_rng(0).standard_normal((2, 4, 7)).astype("float32")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    real = targets != seq2seq.PAD
    per_token = -(1 - smoothing) * np.take_along_axis(log_p, targets[..., None], -1)[..., 0] - smoothing * log_p.mean(-1)
    expected = (per_token * real).sum() / real.sum()
    actual = ops.convert_to_numpy(seq2seq.SmoothedCrossEntropy(smoothing)(targets, logits))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)

"""The seq2seq network's decoders and its step model, checked against direct computation."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from keras_lstm.zoo import seq2seq

CONFIG = {"vocabulary": 7, "embedding": 6, "encoder_units": 5, "decoder_units": 4, "dropout": 0.0}


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "lexical"])
def network(request):
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


def test_a_symbol_is_one_subword_and_never_split():
    texts = ["Das ist ein Haus.", "This is a house.", "<desktop-help> Ich kann nicht folgen."] * 20
    plain, with_symbol = seq2seq.Subwords.train(texts, 60), seq2seq.Subwords.train(texts, 60, symbols=["<desktop-help>"])
    assert len(plain.pieces(plain.encode("<desktop-help> Haus"))) > 3
    assert "<desktop-help>" in with_symbol.pieces(with_symbol.encode("<desktop-help> Haus"))


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


class TinyModel(seq2seq.Seq2SeqModel):
    name = "tiny-seq2seq"


TWO_STAGES = {
    "vocabulary": 60, "embedding": 8, "encoder_units": 8, "decoder_units": 8, "dropout": 0.3, "word_dropout": 0.1,
    "fine_tune_epochs": 2, "fine_tune_learning_rate": 1e-3,
}
WORDS = "Das ist ein Haus This is a house Ich kann nicht folgen I cannot follow".split()


def two_stage_training(checkpoint_dir, callbacks=(), epochs=1):
    rng = np.random.default_rng(0)
    pairs = [(" ".join(rng.choice(WORDS, 4)), " ".join(rng.choice(WORDS, 3))) for _ in range(48)]
    return seq2seq.train(
        TinyModel, pairs, pairs[:8], TWO_STAGES, epochs=epochs, seed=0, batch_size=8,
        checkpoint_dir=checkpoint_dir, callbacks=callbacks, fine_tune_pairs=pairs[:16],
    )


class StopAtStage(keras.callbacks.Callback):
    """Counts the stages that start training; raises when `stop_at` starts."""

    def __init__(self, stop_at=None):
        super().__init__()
        self.started, self.stop_at = 0, stop_at

    def on_train_begin(self, logs=None):
        self.started += 1
        if self.started == self.stop_at:
            raise KeyboardInterrupt


def test_a_second_stage_fine_tunes_and_an_interrupted_one_keeps_the_first(tmp_path):
    counter = StopAtStage()
    uninterrupted, record = two_stage_training(tmp_path / "a", [counter])
    assert counter.started == 2
    assert (record["epochs"], record["training_pairs"], record["fine_tune_epochs"], record["fine_tune_pairs"]) == (1, 48, 2, 16)
    assert not (tmp_path / "a").exists()

    with pytest.raises(KeyboardInterrupt):
        two_stage_training(tmp_path / "b", [StopAtStage(stop_at=2)])
    assert (tmp_path / "b" / "stage-1" / "result.json").exists()
    with pytest.raises(ValueError, match="holds a finished stage of another run"):
        two_stage_training(tmp_path / "b", epochs=2)
    counter = StopAtStage()
    resumed, resumed_record = two_stage_training(tmp_path / "b", [counter])
    assert counter.started == 1  # stage 1 was not trained again
    assert resumed_record["dev_loss_before_fine_tuning"] == record["dev_loss_before_fine_tuning"]
    for expected, actual in zip(uninterrupted.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_fine_tuning_needs_its_pairs(tmp_path):
    with pytest.raises(ValueError, match="fine_tune_epochs=2 needs fine_tune_pairs"):
        seq2seq.train(TinyModel, [("a b", "c d")] * 8, [("a b", "c d")], TWO_STAGES, epochs=1, seed=0,
                      batch_size=4, checkpoint_dir=tmp_path)


class FixedNextWord:
    """A stand-in network: at every step, whatever came before, the next subword is 4 with
    probability 1/2, 5 with 1/4, EOS with 1/8, and each of the other five with 1/40."""

    probabilities = np.array([1 / 40, 1 / 40, 1 / 40, 1 / 8, 1 / 2, 1 / 4, 1 / 40, 1 / 40])

    def __call__(self, inputs, training=False):
        _, target_in = inputs
        return np.broadcast_to(np.log(self.probabilities), (*target_in.shape, len(self.probabilities))).astype("float32")


class WordIds:
    ids = {"a": 6, "b": 7, "x": 4, "y": 5}

    def encode(self, text):
        return [self.ids[word] for word in text.split()]


def test_perplexity_is_per_output_subword_with_eos_and_without_padding():
    zoo_model = TinyModel(FixedNextWord(), {})
    zoo_model._subwords = WordIds()
    # ("a", "x y"): x, y, EOS have probabilities 1/2, 1/4, 1/8: -log = ln 2 + 2 ln 2 + 3 ln 2 = 6 ln 2.
    # ("b", "y"): y, EOS: 2 ln 2 + 3 ln 2 = 5 ln 2. Per output subword: 11 ln 2 / 5, so the
    # perplexity is 2^(11/5) = 4.595. Without EOS: 2^(5/3) = 3.17; the mean of each pair's
    # perplexity: (2^2 + 2^2.5) / 2 = 4.83; padding counted (1/40 each): far more.
    assert zoo_model.perplexity([("a", "x y"), ("b", "y")]) == pytest.approx(2 ** (11 / 5))
    with pytest.raises(ValueError, match=r"pairs=\[\]; expected a non-empty list of \(input, output\) text pairs"):
        zoo_model.perplexity([])
    with pytest.raises(ValueError, match=r"pairs\[1\]=\('b',\); expected an \(input, output\) pair of str"):
        zoo_model.perplexity([("a", "x y"), ("b",)])

"""The story reader's layers: sentence memories and attention hops over them.

After Dynamic Memory Networks (DMN+, Xiong et al. 2016): each sentence is a
fact vector f_j, and each hop scores every fact against the question q and
the memory m from interaction features,

    z_j = [f_j * q, f_j * m, |f_j - q|, |f_j - m|, e^a_j, p^a_j, e^r_j, p^r_j, x_j]
    s_j = w . tanh(W z_j + b) + b'

where p^a_j and p^r_j are the shares of fact j in the previous hop's two reads
(below), and e_j = sum_{k > j} p_k the share of that read that lies after fact
j (for the first hop p = 0, e = 1): "where was Mary when she dropped the
football" is her last move before the drop the previous hop found, which the
facts alone do not say. Each read's positions come separately: where the two
reads disagree, one (e, p) of their combined `found` would place the fact in
between (the card measures both). x_j, where a reader has them (its
`word_matches` window, 0 for none), says which of the sentence's last words
are which of the question's (`WordMatches`).

Each hop then reads the facts twice: a softmax over the scores (`a_j`, where the
question's answer is one fact wherever it is), and a recency read (`r_j`,
after DMN+'s attention GRU: a gate g_j = sigmoid(s_j) lets fact j through and
every later fact that passes its gate overwrites it),

    a_j = softmax_j(s_j)          r_j = g_j * prod_{k > j} (1 - g_k)

and updates the memory m' = relu(U [m; sum_j r_j f_j; sum_j a_j f_j; q]). What
the hop found of fact j, by either read, is found_j = 1 - (1 - a_j)(1 - r_j):
training on supporting facts raises it for the hop's fact (story_reader.py).

"Where is Mary?" is the last fact about Mary: the recency read finds it with
one gate, where a softmax has to learn to tell the last mention from the
earlier ones. The product is a cumulative sum of logarithms: no loop.

A fact is the sentence LSTM's state after the fusion BiLSTM, beside a
projection of the sentence's bag of words (End-To-End Memory Networks'
memories); q is the question LSTM's state beside its bag of words through the
same projection. The shared projection is what lets training start: on task
1 alone (1,000 questions, learning rate 5e-3), the hops found the right fact
after 3 epochs with it, after about 70 without (and not within 120 at 2e-3).
"""

import keras
from keras import ops

PACKAGE = "keras_lstm.zoo"


def recency_weights(gates):
    """(batch, facts) gates g in [0, 1] -> r_j = g_j * prod_{k > j} (1 - g_k): fact j's share
    of what is left after every later fact has taken its own."""
    # log prod_{k > j} (1 - g_k) = (sum over all k) - (sum over k <= j); 1e-6 keeps a shut gate finite.
    kept = ops.cumsum(ops.log(1.0 - gates + 1e-6), axis=-1)
    return gates * ops.exp(kept[:, -1:] - kept)


@keras.saving.register_keras_serializable(package=PACKAGE)
class EachSentence(keras.layers.Layer):
    """Runs `layer` (an LSTM returning its last state) over each sentence's words:
    (batch, sentences, words, features) -> (batch, sentences, units). One call on
    batch * sentences rows, where `TimeDistributed` calls the LSTM once per sentence."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        self.layer.build((None, input_shape[2], input_shape[3]))

    def call(self, inputs):
        batch, sentences, words, features = ops.shape(inputs)
        states = self.layer(ops.reshape(inputs, (batch * sentences, words, features)))
        return ops.reshape(states, (batch, sentences, self.layer.units))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.layer.units)

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SentencePresent(keras.layers.Layer):
    """(batch, sentences, words) word ids -> (batch, sentences) bool: the sentences there
    are (a story shorter than the batch's longest has empty rows, all padding)."""

    def call(self, story):
        return ops.any(ops.not_equal(story, 0), axis=-1)

    def compute_output_spec(self, story):
        return keras.KerasTensor(story.shape[:-1], dtype="bool")


@keras.saving.register_keras_serializable(package=PACKAGE)
class BagOfWords(keras.layers.Layer):
    """(embedded words (..., words, features), word ids (..., words)) -> (..., features):
    the sum of the vectors of the words there are (padding left out)."""

    def call(self, embedded, ids):
        there = ops.cast(ops.not_equal(ids, 0), embedded.dtype)
        return ops.sum(embedded * ops.expand_dims(there, -1), axis=-2)

    def compute_output_shape(self, embedded_shape, ids_shape=None):
        return tuple(embedded_shape[:-2]) + (embedded_shape[-1],)


@keras.saving.register_keras_serializable(package=PACKAGE)
class WordMatches(keras.layers.Layer):
    """(story ids (batch, sentences, words), question ids (batch, words)) -> (batch,
    sentences, window * window): 1 where the sentence's k-th word from its end is the
    question's l-th from its end (both are left-padded; padding matches nothing).

    Why: "What is west of the garden?" after "The kitchen is west of the garden. The garden
    is west of the hallway." asks the sentence where the garden stands after the question's
    direction, or before its opposite, and the question can be turned round ("What is the
    garden east of?"): a parity of three bits that the hops did not learn from the
    sentences' LSTM states (task 4 stayed at 91-93%, the card). Here each bit is one
    feature: where the place stands in each, and whether the direction words are one word."""

    def __init__(self, window, **kwargs):
        super().__init__(**kwargs)
        self.window = window

    def call(self, story, question):
        window = self.window
        if window == 0:  # no features: the readers trained without them
            return ops.zeros_like(ops.cast(story[:, :, :0], "float32"))
        ends = ops.pad(story, [[0, 0], [0, 0], [window, 0]])[:, :, -window:]
        asked = ops.pad(question, [[0, 0], [window, 0]])[:, -window:]
        same = ops.logical_and(
            ops.equal(ends[:, :, :, None], asked[:, None, None, :]), ops.not_equal(ends, 0)[:, :, :, None]
        )
        batch, sentences = ops.shape(story)[0], ops.shape(story)[1]
        return ops.reshape(ops.cast(same, "float32"), (batch, sentences, window * window))

    def compute_output_shape(self, story_shape, question_shape=None):
        return (story_shape[0], story_shape[1], self.window * self.window)

    def get_config(self):
        return {**super().get_config(), "window": self.window}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Found(keras.layers.Layer):
    """A hop's reads w -> found_j = 1 - prod over the reads of (1 - w_j), how much of fact j
    some read takes: the output that training on supporting facts steers."""

    def call(self, reads):
        return 1.0 - ops.prod(1.0 - ops.stack(reads, axis=0), axis=0)

    def compute_output_shape(self, reads_shape):
        return reads_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class MemoryHop(keras.layers.Layer):
    """One hop: (facts, question, memory, present, word matches, *the previous hop's reads) ->
    (the next memory, *its reads over the facts: a, r). found_j = 1 - (1 - a_j)(1 - r_j),
    how much of fact j either read takes (`Found`), is what training steers to a question's
    supporting fact by either read: "Mary's last move" is the recency read's, "the move
    before that one" the softmax's."""

    READS = 2  # the softmax read and the recency read

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, facts_shape, matches_shape):
        size = facts_shape[-1]
        self.gate_hidden = keras.layers.Dense(self.units, activation="tanh", name="gate_hidden")
        self.gate_hidden.build((None, None, 4 * size + 2 * self.READS + matches_shape[-1]))
        self.gate_score = keras.layers.Dense(1, name="gate_score")
        self.gate_score.build((None, None, self.units))
        self.update = keras.layers.Dense(size, activation="relu", name="update")
        self.update.build((None, (2 + self.READS) * size))

    @staticmethod
    def _positions(present, dtype, previous):
        """(e, p) for each fact: the share of a `previous` read after it and on it."""
        if previous is None:  # the first hop: as if the previous read were past the last fact
            previous = ops.zeros_like(ops.cast(present, dtype))
            return ops.ones_like(previous), previous
        previous = previous / (ops.sum(previous, axis=-1, keepdims=True) + 1e-6)
        return ops.sum(previous, axis=-1, keepdims=True) - ops.cumsum(previous, axis=-1), previous

    def reads(self, facts, question, memory, present, matches, previous=()):
        """(a, r): the softmax read's and the recency read's weights over the facts."""
        q, m = ops.expand_dims(question, 1), ops.expand_dims(memory, 1)
        positions = [x for read in (previous or [None] * self.READS) for x in self._positions(present, facts.dtype, read)]
        features = ops.concatenate(
            [facts * q, facts * m, ops.abs(facts - q), ops.abs(facts - m)] + [ops.expand_dims(x, -1) for x in positions]
            + [ops.cast(matches, facts.dtype)],
            axis=-1,
        )
        scores = ops.squeeze(self.gate_score(self.gate_hidden(features)), axis=-1)
        attention = ops.softmax(ops.where(present, scores, -1e9), axis=-1)
        recency = recency_weights(ops.sigmoid(scores) * ops.cast(present, scores.dtype))
        return attention, recency

    def call(self, facts, question, memory, present, matches, *previous):
        reads = self.reads(facts, question, memory, present, matches, previous)
        read = lambda weights: ops.sum(ops.expand_dims(weights, -1) * facts, axis=1)  # noqa: E731
        # The recency read's vector, then the softmax read's: the order the committed
        # readers' `update` weights were trained in.
        return self.update(ops.concatenate([memory, *[read(w) for w in reads[::-1]], question], axis=-1)), *reads

    def compute_output_shape(self, facts_shape, *other_shapes):
        return (facts_shape[0], facts_shape[-1]), *[tuple(facts_shape[:2])] * self.READS

    def get_config(self):
        return {**super().get_config(), "units": self.units}

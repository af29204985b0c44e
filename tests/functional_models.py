"""Small functional models (not chains) that both exporters' tests convert: a decoder step."""

import keras
import numpy as np

import keras_lstm

VOCABULARY, WIDTH, UNITS = 30, 6, 5


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign((0.5 * rng.standard_normal(weight.shape)).astype("float32"))
    return model


def decoder_step(attention=keras.layers.Attention, lexical=False):
    """(token, h, c, memory, memory mask) -> (scores, h, c, attention): one step from given states.
    `lexical`: the context's last features also score the outputs (a slice and an Add)."""
    token = keras.Input((1,), dtype="int32", name="token")
    h, c = keras.Input((UNITS,), name="h"), keras.Input((UNITS,), name="c")
    memory = keras.Input((None, 2 * UNITS), name="memory")
    keys = keras.Input((None, UNITS), name="keys")
    memory_mask = keras.Input((None,), dtype="bool", name="memory_mask")
    x = keras.layers.Embedding(VOCABULARY, WIDTH)(token)
    y, h_next, c_next = keras_lstm.LSTM(UNITS, return_sequences=True, return_state=True)(x, initial_state=[h, c])
    context, weights = attention()([y, memory, keys], mask=[None, memory_mask], return_attention_scores=True)
    scores = keras.layers.Dense(VOCABULARY)(keras.layers.Concatenate()([y, context]))
    if lexical:
        attended = keras.layers.Activation("tanh")(context[..., -WIDTH:])
        scores = keras.layers.Add()([scores, keras.layers.Dense(VOCABULARY)(attended)])
    outputs = [
        keras.layers.Reshape((-1,), name="scores")(scores),
        keras.layers.Identity(name="h_next")(h_next),
        keras.layers.Identity(name="c_next")(c_next),
        keras.layers.Reshape((-1,), name="attention_weights")(weights),
    ]
    return randomize(keras.Model([token, h, c, memory, keys, memory_mask], outputs, name="decoder_step"))


def additive_decoder_step():
    return decoder_step(lambda: keras.layers.AdditiveAttention(use_scale=True))


def lexical_decoder_step():
    return decoder_step(keras.layers.AdditiveAttention, lexical=True)


def slices():
    """An LSTM's outputs sliced four ways: the trailing features, a span of steps, both at
    once, and whole axes (no slice at all)."""
    ids = keras.Input((None,), dtype="int32", name="ids")
    y = keras_lstm.LSTM(UNITS, return_sequences=True)(keras.layers.Embedding(VOCABULARY, WIDTH)(ids))
    return randomize(keras.Model(ids, [y[..., -2:], y[:, 1:3], y[:, :-1, 1:4], y[:, :]], name="slices"))


def variant_from_given_states():
    """x, h0, c0 -> (sequence, h, c) of an LSTM neither exporter's fused op computes
    (layer norm, projection): the step in plain ops, from given states."""
    x = keras.Input((None, WIDTH), name="x")
    h0, c0 = keras.Input((3,), name="h0"), keras.Input((UNITS,), name="c0")
    lstm = keras_lstm.LSTM(UNITS, layer_norm=True, proj_units=3, return_sequences=True, return_state=True)
    sequence, h, c = lstm(x, initial_state=[h0, c0])
    return randomize(keras.Model([x, h0, c0], [sequence, h, c], name="variant_states"))


def masked_decoder_step():
    """(token, h, c) -> (output, h, c): one step from given states with a mask (ids != 0).
    Keras keeps h and c and outputs zeros where the token is padding. With
    `masked_decoder_step_inputs`, the second row is padding."""
    token = keras.Input((1,), dtype="int32", name="token")
    h, c = keras.Input((UNITS,), name="h"), keras.Input((UNITS,), name="c")
    x = keras.layers.Embedding(VOCABULARY, WIDTH)(token)
    lstm = keras_lstm.LSTM(UNITS, return_state=True)
    y, h_next, c_next = lstm(x, initial_state=[h, c], mask=keras.ops.not_equal(token, 0))
    return randomize(keras.Model([token, h, c], [y, h_next, c_next], name="masked_decoder_step"))


def masked_decoder_step_inputs():
    rng = np.random.default_rng(3)
    return [np.array([[4], [0]], "int32")] + [rng.standard_normal((2, UNITS)).astype("float32") for _ in "hc"]


class FlooredScale(keras.layers.Layer):
    """A layer of one's own, max(x * scale, -0.5) with a trained scale per feature, that
    exports itself: its math once against `ops` (keras.ops or their TensorFlow twins),
    and its ONNX nodes."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x):
        return self.compute(keras.ops, x, self.scale)

    def compute(self, ops, x, scale):
        return ops.maximum(x * scale, -0.5)

    def export_tflite(self, ops, x):
        return self.compute(ops, x, keras.ops.convert_to_numpy(self.scale))

    def export_onnx(self, graph, x):
        scaled = graph.node("Mul", x, graph.constant(keras.ops.convert_to_numpy(self.scale)))
        return graph.node("Max", scaled, graph.constant(np.array(-0.5, np.float32)))


def nested_head():
    """features -> Rescaling -> a layer of one's own -> a functional model inside the model
    (LayerNormalization, an LSTM, LayerNormalization without weights, Dense); the scaled
    features are a second output."""
    features = keras.Input((None, WIDTH), name="features")
    x = keras.layers.Rescaling(0.5, offset=0.25)(features)
    x = FlooredScale(name="floored")(x)
    inner = keras.Input((None, WIDTH))
    y = keras_lstm.LSTM(UNITS, return_sequences=True)(keras.layers.LayerNormalization()(inner))
    y = keras.layers.LayerNormalization(center=False, scale=False)(y)
    head = keras.Model(inner, keras.layers.Dense(3)(y), name="head")
    return randomize(keras.Model(features, [head(x), x], name="nested_head"))

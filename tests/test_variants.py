"""The LSTM variants against an independent float64 reference, forward and gradients."""

import numpy as np
import keras
import pytest

import keras_lstm
from keras_lstm.recurrence import lstm_sequence
from reference import numeric_gradients, numpy_lstm_variant
from support import outputs_and_gradients, random_inputs, relative_error, to_numpy

BATCH, STEPS, FEATURES, UNITS, PROJECTION = 3, 6, 4, 5, 3
FORWARD_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4

VARIANTS = {
    "peephole": {"peephole": True},
    "projection": {"proj_units": PROJECTION},
    "projection_clip": {"proj_units": PROJECTION, "proj_clip": 0.1},
    "coupled_gates": {"coupled_gates": True},
    "coupled_peephole": {"coupled_gates": True, "peephole": True},
    "layer_norm": {"layer_norm": True},
    "cell_clip": {"cell_clip": 0.2},
    "forget_bias_coupled": {"forget_bias": 1.5, "coupled_gates": True},
    "gate_clip": {"gate_clip": 0.5},
    # A clip that binds with the peepholes on: z_o is clipped after its peephole term.
    "peephole_gate_clip": {"peephole": True, "gate_clip": 0.3},
    "zoneout": {"zoneout_cell": 0.3, "zoneout_hidden": 0.2},
    "layer_norm_projection_peephole": {"layer_norm": True, "proj_units": PROJECTION, "peephole": True},
    "everything": {
        "peephole": True,
        "proj_units": PROJECTION,
        "proj_clip": 0.3,
        "coupled_gates": True,
        "layer_norm": True,
        "cell_clip": 0.5,
        "gate_clip": 2.0,
        "zoneout_cell": 0.1,
        "zoneout_hidden": 0.2,
    },
}


def weight_name(weight):
    return weight.path.split("/")[-1]


def build_with_random_weights(options, seed=0, **layer_kwargs):
    """A built layer whose every weight (peepholes, norms too) is random."""
    layer = keras_lstm.LSTM(UNITS, return_sequences=True, return_state=True, **options, **layer_kwargs)
    layer.build((None, STEPS, FEATURES))
    rng = np.random.default_rng(seed)
    layer.set_weights([(0.5 * rng.standard_normal(w.shape)).astype("float32") for w in layer.weights])
    return layer


def reference_loss(coefficients, options, names):
    def loss(x, h0, c0, *weights):
        outputs = numpy_lstm_variant(x, dict(zip(names, weights)), {"units": UNITS, **options}, initial_state=[h0, c0])
        return sum(float((o * k).sum()) for o, k in zip(outputs, coefficients))

    return loss


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_matches_the_float64_reference(variant):
    options = VARIANTS[variant]
    layer = build_with_random_weights(options)
    x = random_inputs(BATCH, STEPS, FEATURES)
    hidden = options.get("proj_units", UNITS)
    state = [random_inputs(BATCH, hidden, seed=1), random_inputs(BATCH, UNITS, seed=2)]
    outputs = [to_numpy(y) for y in layer(x, initial_state=state)]
    weights = {weight_name(w): to_numpy(w) for w in layer.weights}
    expected = numpy_lstm_variant(x, weights, {"units": UNITS, **options}, initial_state=state)
    for actual, reference in zip(outputs, expected):
        assert actual.shape == reference.shape
        assert relative_error(actual, reference) < FORWARD_TOLERANCE


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_gradients_match_finite_differences(variant):
    options = VARIANTS[variant]
    layer = build_with_random_weights(options, seed=3)
    x = random_inputs(BATCH, STEPS, FEATURES, seed=4)
    outputs, gradients = outputs_and_gradients(layer, x)
    # The same weighted sum of outputs that outputs_and_gradients differentiates.
    coefficients = [
        np.random.default_rng(100 + index).standard_normal(o.shape).astype("float32")
        for index, o in enumerate(outputs)
    ]
    names = [weight_name(w) for w in layer.trainable_weights]
    hidden = options.get("proj_units", UNITS)
    zeros = [np.zeros((BATCH, hidden)), np.zeros((BATCH, UNITS))]
    loss = reference_loss(coefficients, options, names)
    expected = numeric_gradients(
        lambda x, *weights: loss(x, *zeros, *weights),
        [x] + [to_numpy(w) for w in layer.trainable_weights],
    )
    assert len(gradients) == len(expected)
    for name, actual, reference in zip(["inputs"] + names, gradients, expected):
        assert relative_error(actual, reference) < GRADIENT_TOLERANCE, name


def test_zoneout_in_training_keeps_previous_values_with_the_given_masks():
    options = {"zoneout_cell": 0.4, "zoneout_hidden": 0.3, "proj_units": PROJECTION}
    layer = build_with_random_weights(options)
    x = random_inputs(BATCH, STEPS, FEATURES)
    rng = np.random.default_rng(5)
    keep_c = (rng.random((STEPS, BATCH, UNITS)) < 0.4).astype("float32")
    keep_h = (rng.random((STEPS, BATCH, PROJECTION)) < 0.3).astype("float32")
    zeros = [np.zeros((BATCH, PROJECTION), "float32"), np.zeros((BATCH, UNITS), "float32")]
    _, outputs, (h, c) = lstm_sequence(
        layer.cell,
        keras.ops.convert_to_tensor(x),
        [keras.ops.convert_to_tensor(s) for s in zeros],
        zoneout_cell_keep=keras.ops.convert_to_tensor(keep_c),
        zoneout_hidden_keep=keras.ops.convert_to_tensor(keep_h),
    )
    weights = {weight_name(w): to_numpy(w) for w in layer.weights}
    expected, expected_h, expected_c = numpy_lstm_variant(
        x, weights, {"units": UNITS, **options}, zoneout_masks=(keep_c, keep_h)
    )
    assert relative_error(to_numpy(outputs), expected) < FORWARD_TOLERANCE
    assert relative_error(to_numpy(c), expected_c) < FORWARD_TOLERANCE


def test_the_gate_clip_binds_in_the_peephole_case():
    """The case above only tests the order of clip and peephole if the clip changes
    the output; here it does, by far more than the tolerance."""
    x = random_inputs(BATCH, STEPS, FEATURES)
    clipped = build_with_random_weights(VARIANTS["peephole_gate_clip"])
    unclipped = build_with_random_weights({"peephole": True})
    assert relative_error(to_numpy(clipped(x)[0]), to_numpy(unclipped(x)[0])) > 0.1


ZONEOUT_RATE = 0.3


def kept_fraction(previous, new):
    """The share of units whose new value is exactly the previous one."""
    return float(np.mean(to_numpy(new) == to_numpy(previous)))


def test_zoneout_keeps_the_rate_of_units_in_training_in_one_step():
    # 4,096 units: the kept fraction's sd is 0.007, so 0.05 is 7 sd; with the
    # keep test inverted it would be 0.7.
    batch, units = 64, 64
    cell = keras_lstm.LSTMCell(units, zoneout_cell=ZONEOUT_RATE, zoneout_hidden=ZONEOUT_RATE, seed=3)
    cell.build((None, FEATURES))
    x = random_inputs(batch, FEATURES)
    h, c = random_inputs(batch, units, seed=1), random_inputs(batch, units, seed=2)
    _, (h_next, c_next) = cell(x, [h, c], training=True)
    assert abs(kept_fraction(c, c_next) - ZONEOUT_RATE) < 0.05
    assert abs(kept_fraction(h, h_next) - ZONEOUT_RATE) < 0.05
    _, (h_next, c_next) = cell(x, [h, c], training=False)  # the expectation: nothing kept exactly
    assert kept_fraction(c, c_next) == 0 and kept_fraction(h, h_next) == 0


def test_zoneout_keeps_the_rate_of_units_in_training_over_a_sequence():
    batch, steps, units = 32, 12, 32
    layer = keras_lstm.LSTM(units, zoneout_hidden=ZONEOUT_RATE, return_sequences=True, seed=4)
    outputs = to_numpy(layer(random_inputs(batch, steps, FEATURES), training=True))
    # Step t's h equals step t-1's where the unit kept its value.
    assert abs(kept_fraction(outputs[:, :-1], outputs[:, 1:]) - ZONEOUT_RATE) < 0.05


def test_zoneout_is_random_in_training_and_its_expectation_at_inference():
    layer = build_with_random_weights({"zoneout_cell": 0.5, "zoneout_hidden": 0.5}, seed=1)
    x = random_inputs(BATCH, STEPS, FEATURES)
    first = to_numpy(layer(x, training=True)[0])
    second = to_numpy(layer(x, training=True)[0])
    assert np.abs(first - second).max() > 1e-4
    inference = [to_numpy(y) for y in layer(x, training=False)]
    again = [to_numpy(y) for y in layer(x, training=False)]
    for a, b in zip(inference, again):
        np.testing.assert_array_equal(a, b)


def test_weight_shapes_and_names():
    layer = keras_lstm.LSTM(UNITS, peephole=True, proj_units=PROJECTION, coupled_gates=True, layer_norm=True)
    layer.build((None, None, FEATURES))
    shapes = {weight_name(w): tuple(w.shape) for w in layer.weights}
    assert shapes == {
        "kernel": (FEATURES, 3 * UNITS),
        "recurrent_kernel": (PROJECTION, 3 * UNITS),
        "bias": (3 * UNITS,),
        "peephole_f": (UNITS,),
        "peephole_o": (UNITS,),
        "projection_kernel": (UNITS, PROJECTION),
        "gate_norm_scale": (3 * UNITS,),
        "cell_norm_scale": (UNITS,),
        "cell_norm_center": (UNITS,),
    }
    # unit_forget_bias puts the ones on the forget block, first when coupled.
    np.testing.assert_array_equal(to_numpy(layer.cell.bias)[:UNITS], 1.0)
    np.testing.assert_array_equal(to_numpy(layer.cell.bias)[UNITS:], 0.0)


def test_projection_shapes_in_models_and_bidirectional():
    x = random_inputs(BATCH, STEPS, FEATURES)
    layer = keras_lstm.LSTM(UNITS, proj_units=PROJECTION, return_sequences=True, return_state=True)
    sequence, h, c = layer(x)
    assert tuple(sequence.shape) == (BATCH, STEPS, PROJECTION)
    assert tuple(h.shape) == (BATCH, PROJECTION) and tuple(c.shape) == (BATCH, UNITS)
    both = keras.layers.Bidirectional(keras_lstm.LSTM(UNITS, proj_units=PROJECTION, peephole=True))
    assert tuple(both(x).shape) == (BATCH, 2 * PROJECTION)
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras_lstm.LSTM(UNITS, proj_units=PROJECTION, layer_norm=True), keras.layers.Dense(1)])
    assert model.output_shape == (None, 1)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"proj_clip": 1.0}, ValueError, r"`proj_clip` needs `proj_units`.*proj_clip=1.0, proj_units=None"),
        ({"layer_norm_epsilon": 1e-3}, ValueError, r"`layer_norm_epsilon` needs `layer_norm`"),
        ({"proj_units": 0}, ValueError, r"`proj_units` must be a positive integer"),
        ({"cell_clip": -1.0}, ValueError, r"`cell_clip` must be a positive number or None.*cell_clip=-1.0"),
        ({"gate_clip": "3"}, TypeError, r"`gate_clip` must be a positive number or None"),
        ({"zoneout_cell": 1.0}, ValueError, r"`zoneout_cell` must be a float in \[0, 1\)"),
        ({"zoneout_hidden": -0.5}, ValueError, r"`zoneout_hidden` must be a float in \[0, 1\)"),
        ({"layer_norm": True, "layer_norm_epsilon": 0.0}, ValueError, r"`layer_norm_epsilon` must be a positive number"),
        ({"forget_bias": float("inf")}, ValueError, r"`forget_bias` must be a finite number"),
        ({"layer_norm": True, "layer_norm_epsilon": None}, TypeError, r"`layer_norm_epsilon` must be a positive number\. Received: layer_norm_epsilon=None"),
    ],
)
def test_impossible_combinations_raise_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        keras_lstm.LSTM(UNITS, **kwargs)


def test_variants_train():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 2)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    # The clips are left out: they bound h, and the target's range is wider.
    unclipped = {k: v for k, v in VARIANTS["everything"].items() if not k.endswith("clip")}
    layer = keras_lstm.LSTM(16, **unclipped)
    model = keras.Sequential([keras.Input((8, 2)), layer, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before


def test_the_readme_shows_the_table_of_who_takes_what():
    import os

    from keras_lstm import variants

    readme = os.path.join(os.path.dirname(__file__), "..", "README.md")
    with open(readme) as file:
        assert variants.capability_table() in file.read()

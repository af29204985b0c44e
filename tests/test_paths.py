"""Which implementation runs, and that every one computes the reference function."""

import contextlib

import numpy as np
import keras
import pytest

import keras_lstm
from support import BACKEND, outputs_and_gradients, random_inputs, relative_error

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5
FORWARD_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4


def _gpu():
    if BACKEND == "jax":
        from keras_lstm import jax_cudnn

        return jax_cudnn.gpu_available()
    if BACKEND == "tensorflow":
        from keras_lstm import tf_cudnn

        return tf_cudnn.gpu_available()
    return False


# The path when the fused kernel cannot take the configuration.
LOOP_PATH = {"torch": "scan", "jax": "scan_step_projection", "tensorflow": "tf_while"}[BACKEND]
FAST_PATH = {
    "torch": "torch_fused",
    "jax": "jax_cudnn" if _gpu() else "scan_step_projection",
    "tensorflow": "tf_cudnn" if _gpu() else "tf_while",
}[BACKEND]
# With a right-padded mask: the fused kernels take one, tf_cudnn none.
PADDED_PATH = LOOP_PATH if FAST_PATH == "tf_cudnn" else FAST_PATH


def simulate_cudnn(patch):
    """On a JAX machine without a GPU, runs the cuDNN path through JAX's own
    reference of the cuDNN kernel (`jax.experimental.rnn.lstm_ref`, same flat
    weight layout and sequence-length semantics): the packing, the gate order
    and the mask handling are then checked on the CPU too."""
    from jax.experimental import rnn as jax_rnn

    from keras_lstm import jax_cudnn

    def reference_kernel(x, h0, c0, weights, lengths, input_size, hidden_size, num_layers, dropout, bidirectional):
        unpacked = jax_rnn.unpack_lstm_weights(weights, input_size, hidden_size, num_layers, bidirectional)
        return jax_rnn.lstm_ref(
            x, h0, c0, *unpacked, lengths, input_size, hidden_size, num_layers, dropout, bidirectional
        )

    patch.setattr(jax_cudnn, "gpu_available", lambda: True)
    patch.setattr(jax_cudnn.jax_rnn, "lstm", reference_kernel)


def middle_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[1, 2:4] = False
    return mask


def right_padded_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    return mask


# (layer arguments, call arguments, training, expected path): "fast" is the
# backend's fused path, "loop" the path when the fused kernel cannot take the
# configuration, "projection" where only torch's kernel takes it.
PATH_CASES = {
    "default": ({}, {}, False, "fast"),
    "go_backwards_sequences": ({"go_backwards": True, "return_sequences": True}, {}, False, "fast"),
    "input_dropout_training": ({"dropout": 0.3}, {}, True, "fast"),
    "mask": ({}, {"mask": middle_mask()}, False, "loop"),
    "mask_right_padded": ({}, {"mask": right_padded_mask()}, False, "padded"),
    "mask_right_padded_backwards": ({"go_backwards": True}, {"mask": right_padded_mask()}, False, "padded"),
    "recurrent_dropout_training": ({"recurrent_dropout": 0.3}, {}, True, "loop"),
    "recurrent_dropout_inference": ({"recurrent_dropout": 0.3}, {}, False, "fast"),
    "relu": ({"activation": "relu"}, {}, False, "loop"),
    "unroll": ({"unroll": True}, {}, False, "unrolled"),
    "peephole_variant": ({"peephole": True}, {}, False, "loop"),
    "projection_variant": ({"proj_units": 3}, {}, False, "projection"),
    "projection_clip_variant": ({"proj_units": 3, "proj_clip": 1.0}, {}, False, "loop"),
}


@pytest.mark.parametrize("fast_path", [FAST_PATH] + (["jax_cudnn"] if BACKEND == "jax" and FAST_PATH != "jax_cudnn" else []))
@pytest.mark.parametrize("case", sorted(PATH_CASES))
def test_the_expected_path_runs(monkeypatch, case, fast_path):
    layer_kwargs, call_kwargs, training, expected = PATH_CASES[case]
    if fast_path != FAST_PATH:
        simulate_cudnn(monkeypatch)
    projection_path = "torch_fused" if BACKEND == "torch" else LOOP_PATH
    padded_path = fast_path if fast_path != FAST_PATH else PADDED_PATH
    expected = {"fast": fast_path, "loop": LOOP_PATH, "projection": projection_path, "padded": padded_path}.get(
        expected, expected
    )
    layer = keras_lstm.LSTM(UNITS, **layer_kwargs)
    layer(random_inputs(BATCH, STEPS, FEATURES), training=training, **call_kwargs)
    assert layer.last_path == expected


@contextlib.contextmanager
def on_the_reference(layer):
    """`layer` runs the reference loop inside this context (use_cudnn=False)."""
    saved, layer.use_cudnn = layer.use_cudnn, False
    try:
        yield
    finally:
        layer.use_cudnn = saved


def reference_outputs_and_gradients(monkeypatch, layer, x, **call_kwargs):
    with on_the_reference(layer):
        result = outputs_and_gradients(layer, x, **call_kwargs)
        assert layer.last_path == "scan"
    return result


# (layer arguments, whether to pass a right-padded mask)
FAST_CASES = {
    "last": ({}, False),
    "sequences_and_state": ({"return_sequences": True, "return_state": True}, False),
    "backwards": ({"return_sequences": True, "go_backwards": True}, False),
    "no_bias": ({"use_bias": False, "return_state": True}, False),
    "forget_bias_random": ({"unit_forget_bias": False, "bias_initializer": "random_normal"}, False),
    "padded_last": ({}, True),
    "padded_sequences_and_state": ({"return_sequences": True, "return_state": True}, True),
    "padded_zero_output": ({"return_sequences": True, "zero_output_for_mask": True}, True),
    "padded_backwards": ({"return_sequences": True, "return_state": True, "go_backwards": True}, True),
    "padded_backwards_zero_output": ({"return_sequences": True, "go_backwards": True, "zero_output_for_mask": True}, True),
    "projection": ({"proj_units": 3, "return_sequences": True, "return_state": True}, False),
    "padded_projection_no_bias": ({"proj_units": 3, "use_bias": False, "return_state": True}, True),
}


# On JAX without a GPU, the cuDNN path also runs, on JAX's reference kernel;
# jax.experimental.rnn has no projection, so those cases take the scan there.
FAST_PATH_CASES = [(FAST_PATH, case) for case in sorted(FAST_CASES)]
if BACKEND == "jax" and FAST_PATH != "jax_cudnn":
    FAST_PATH_CASES += [("jax_cudnn", case) for case in sorted(FAST_CASES) if "projection" not in case]
if FAST_PATH in ("jax_cudnn", "tf_cudnn"):
    FAST_PATH_CASES = [(path, case) for path, case in FAST_PATH_CASES if "projection" not in case]
if FAST_PATH == "tf_cudnn":  # it takes no mask, and no use_bias=False
    FAST_PATH_CASES = [(p, case) for p, case in FAST_PATH_CASES if not FAST_CASES[case][1] and "no_bias" not in case]


@pytest.mark.parametrize("fast_path, case", FAST_PATH_CASES)
@pytest.mark.parametrize("with_initial_state", [False, True])
def test_fast_path_matches_the_reference(monkeypatch, case, with_initial_state, fast_path):
    x = random_inputs(BATCH, STEPS, FEATURES, seed=3)
    layer_kwargs, padded = FAST_CASES[case]
    if fast_path != FAST_PATH:
        simulate_cudnn(monkeypatch)
    layer = keras_lstm.LSTM(UNITS, **layer_kwargs)
    call_kwargs = {"mask": right_padded_mask()} if padded else {}
    if with_initial_state:
        hidden = layer_kwargs.get("proj_units", UNITS)
        call_kwargs["initial_state"] = [random_inputs(BATCH, size, seed=s) for size, s in ((hidden, 4), (UNITS, 5))]
    layer(x)
    fast_outputs, fast_gradients = outputs_and_gradients(layer, x, **call_kwargs)
    assert layer.last_path == fast_path
    reference_outputs, reference_gradients = reference_outputs_and_gradients(monkeypatch, layer, x, **call_kwargs)
    for fast, reference in zip(fast_outputs, reference_outputs):
        assert relative_error(fast, reference) < FORWARD_TOLERANCE
    for fast, reference in zip(fast_gradients, reference_gradients):
        assert relative_error(fast, reference) < GRADIENT_TOLERANCE


def test_fast_path_applies_the_input_dropout_mask(monkeypatch):
    x = random_inputs(BATCH, STEPS, FEATURES)
    layer = keras_lstm.LSTM(UNITS, dropout=0.5, return_sequences=True)
    layer(x)
    mask = (np.random.default_rng(1).random((BATCH, FEATURES)) > 0.5) * 2.0

    def run():
        layer.cell._dropout_mask = keras.ops.convert_to_tensor(mask.astype("float32"))
        return outputs_and_gradients(layer, x, training=True)

    fast_outputs, fast_gradients = run()
    assert layer.last_path == FAST_PATH
    with on_the_reference(layer):
        reference_outputs, reference_gradients = run()
    assert relative_error(fast_outputs[0], reference_outputs[0]) < FORWARD_TOLERANCE
    for fast, reference in zip(fast_gradients, reference_gradients):
        assert relative_error(fast, reference) < GRADIENT_TOLERANCE


SCANS = ["keras.ops.scan"] + (["tf_scan"] if BACKEND == "tensorflow" else [])


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("project_inputs_first", [True, False])
def test_scan_variants_match_with_mask_and_dropout(project_inputs_first, scan):
    from keras_lstm.recurrence import lstm_sequence
    from reference import numpy_lstm
    from support import to_numpy

    if scan == "tf_scan":
        from keras_lstm.tf_scan import scan
    else:
        scan = keras.ops.scan

    x = random_inputs(BATCH, STEPS, FEATURES)
    cell = keras_lstm.LSTMCell(UNITS, bias_initializer="random_normal", unit_forget_bias=False)
    cell.build((None, FEATURES))
    rng = np.random.default_rng(2)
    state = [rng.standard_normal((BATCH, UNITS)).astype("float32") for _ in "hc"]
    input_mask = ((rng.random((BATCH, FEATURES)) > 0.2) / 0.8).astype("float32")
    recurrent_mask = ((rng.random((BATCH, UNITS)) > 0.2) / 0.8).astype("float32")
    last, outputs, (h, c) = lstm_sequence(
        cell,
        keras.ops.convert_to_tensor(x),
        [keras.ops.convert_to_tensor(s) for s in state],
        mask=keras.ops.convert_to_tensor(middle_mask()),
        go_backwards=True,
        input_dropout_mask=keras.ops.convert_to_tensor(input_mask),
        recurrent_dropout_mask=keras.ops.convert_to_tensor(recurrent_mask),
        project_inputs_first=project_inputs_first,
        scan=scan,
    )
    expected_outputs, expected_last, expected_h, expected_c = numpy_lstm(
        x,
        *cell.get_weights(),
        initial_state=state,
        mask=middle_mask(),
        go_backwards=True,
        input_dropout_mask=input_mask,
        recurrent_dropout_mask=recurrent_mask,
    )
    for actual, expected in ((outputs, expected_outputs), (last, expected_last), (h, expected_h), (c, expected_c)):
        assert relative_error(to_numpy(actual), expected) < FORWARD_TOLERANCE


@pytest.mark.skipif(BACKEND != "jax", reason="lax.cond on a traced mask is the JAX cuDNN path's own")
@pytest.mark.parametrize("mask_kind", ["right_padded", "middle"])
def test_jax_cudnn_decides_a_traced_mask_at_run_time(monkeypatch, mask_kind):
    import jax

    if FAST_PATH != "jax_cudnn":
        simulate_cudnn(monkeypatch)
    mask = right_padded_mask() if mask_kind == "right_padded" else middle_mask()
    x = random_inputs(BATCH, STEPS, FEATURES, seed=6)
    layer = keras_lstm.LSTM(UNITS, return_sequences=True, return_state=True)
    layer(x)
    weights = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def run(weights, x, mask):
        outputs, _ = layer.stateless_call(weights, non_trainable, x, mask=mask)
        return outputs

    jitted = jax.jit(run)(weights, x, mask)
    # Chosen on the device; the name says so.
    assert layer.last_path == "jax_cudnn or scan_step_projection (the traced mask decides on the device)"
    with on_the_reference(layer):
        expected = run(weights, x, mask)
    for actual, reference in zip(jitted, expected):
        assert relative_error(np.asarray(actual), np.asarray(reference)) < FORWARD_TOLERANCE


# use_cudnn, as keras.layers.LSTM takes it: "auto" the fastest path, True the
# fused kernel or a ValueError saying why, False the reference loop.


def test_use_cudnn_false_runs_the_reference():
    layer = keras_lstm.LSTM(UNITS, use_cudnn=False)
    layer(random_inputs(BATCH, STEPS, FEATURES))
    assert layer.last_path == "scan"


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"peephole": True}, "peephole=True"),
        ({"activation": "relu"}, "activation='relu'"),
        ({"layer_norm": True, "zoneout_cell": 0.1}, "layer_norm=True, zoneout_cell=0.1"),
        ({"unroll": True}, "unroll=True"),
    ],
)
def test_use_cudnn_true_on_a_layer_no_fused_kernel_takes_raises(kwargs, named):
    with pytest.raises(ValueError, match=rf"use_cudnn=True, but .* cannot take {named}"):
        keras_lstm.LSTM(UNITS, use_cudnn=True, **kwargs)


def test_use_cudnn_must_be_auto_true_or_false():
    with pytest.raises(ValueError, match=r"`use_cudnn` must be 'auto', True or False.*use_cudnn='yes'"):
        keras_lstm.LSTM(UNITS, use_cudnn="yes")


@pytest.mark.skipif(BACKEND != "torch", reason="torch is the backend with a fused kernel on a CPU")
def test_use_cudnn_true_runs_the_fused_kernel_and_refuses_what_it_cannot_run():
    layer = keras_lstm.LSTM(UNITS, use_cudnn=True, proj_units=3)  # torch's kernel has proj_size
    layer(random_inputs(BATCH, STEPS, FEATURES))
    assert layer.last_path == "torch_fused"
    with pytest.raises(ValueError, match="torch_fused takes only right-padded masks"):
        layer(random_inputs(BATCH, STEPS, FEATURES), mask=middle_mask())
    dropout = keras_lstm.LSTM(UNITS, use_cudnn=True, recurrent_dropout=0.2)
    with pytest.raises(ValueError, match="no recurrent dropout"):
        dropout(random_inputs(BATCH, STEPS, FEATURES), training=True)


@pytest.mark.skipif(BACKEND == "torch" or _gpu(), reason="a JAX or TensorFlow machine without a GPU")
def test_use_cudnn_true_without_a_gpu_raises_when_called():
    layer = keras_lstm.LSTM(UNITS, use_cudnn=True)  # the layer itself could run on cuDNN
    with pytest.raises(ValueError, match=rf"use_cudnn=True, but .*needs a GPU, and {BACKEND} sees none"):
        layer(random_inputs(BATCH, STEPS, FEATURES))


def fake_keras_cudnn_lstm(
    inputs, h0, c0, mask, kernel, recurrent_kernel, bias, activation, recurrent_activation,
    return_sequences=False, go_backwards=False, unroll=False, time_major=False,
):
    """Stands for Keras's TensorFlow `lstm` (cuDNN) on a machine without a GPU:
    its contract, computed by the numpy reference (forward only)."""
    import tensorflow as tf

    from reference import numpy_lstm

    assert mask is None and not unroll and not time_major
    assert activation is keras.activations.tanh and recurrent_activation is keras.activations.sigmoid

    def run(x, h, c, w, u, b):
        outputs, last, h, c = numpy_lstm(x, w, u, b, initial_state=[h, c], go_backwards=go_backwards)
        return [a.astype("float32") for a in (last, outputs, h, c)]

    last, outputs, h, c = tf.numpy_function(
        run, [inputs, h0, c0, kernel.value, recurrent_kernel.value, bias.value], [tf.float32] * 4
    )
    if not return_sequences:
        outputs = last[:, None]
    return last, outputs, [h, c]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the TensorFlow cuDNN path")
@pytest.mark.parametrize("go_backwards", [False, True])
def test_tf_cudnn_path_passes_keras_function_the_layer(monkeypatch, go_backwards):
    """On a machine without a GPU, Keras's cuDNN function is replaced by a stand-in
    with its contract: what is checked here is what our path gives it (weights,
    state, input dropout, direction) and what it makes of the result."""
    from keras_lstm import tf_cudnn

    if not tf_cudnn.gpu_available():
        monkeypatch.setattr(tf_cudnn, "gpu_available", lambda: True)
        monkeypatch.setattr(tf_cudnn.keras_tensorflow_rnn, "lstm", fake_keras_cudnn_lstm)
    x = random_inputs(BATCH, STEPS, FEATURES, seed=7)
    state = [random_inputs(BATCH, UNITS, seed=s) for s in (8, 9)]
    layer = keras_lstm.LSTM(UNITS, dropout=0.4, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer(x)
    dropout_mask = ((np.random.default_rng(1).random((BATCH, FEATURES)) > 0.4) / 0.6).astype("float32")

    def run():
        layer.cell._dropout_mask = keras.ops.convert_to_tensor(dropout_mask)  # reset after each call
        return [np.asarray(y) for y in layer(x, initial_state=state, training=True)]

    fast = run()
    assert layer.last_path == "tf_cudnn"
    with on_the_reference(layer):
        reference = run()
    for actual, expected in zip(fast, reference):
        assert relative_error(actual, expected) < FORWARD_TOLERANCE


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the TensorFlow cuDNN path")
def test_a_path_that_raises_not_implemented_falls_back(monkeypatch):
    from keras_lstm import tf_cudnn

    def unavailable(*args, **kwargs):
        raise NotImplementedError

    monkeypatch.setattr(tf_cudnn, "gpu_available", lambda: True)
    monkeypatch.setattr(tf_cudnn.keras_tensorflow_rnn, "lstm", unavailable)
    layer = keras_lstm.LSTM(UNITS)
    layer(random_inputs(BATCH, STEPS, FEATURES))
    assert layer.last_path == "tf_while"
    layer.use_cudnn = True
    with pytest.raises(ValueError, match="use_cudnn=True, but tf_cudnn raised NotImplementedError"):
        layer(random_inputs(BATCH, STEPS, FEATURES))


# Keras casts integer inputs to the layer's dtype and float64 ones by autocasting;
# every path must do the same.
INPUT_DTYPE_CASES = {"int32": {}, "int64": {}, "float64": {}, "int32_mask": {"mask": True}, "int32_unrolled": {"unroll": True}}


@pytest.mark.parametrize("case", sorted(INPUT_DTYPE_CASES))
def test_integer_and_float64_inputs_give_what_keras_gives(case):
    dtype = case.split("_")[0]
    options = INPUT_DTYPE_CASES[case]
    x = np.random.default_rng(4).integers(-3, 4, (BATCH, STEPS, FEATURES)).astype(dtype)
    theirs = keras.layers.LSTM(UNITS, return_sequences=True, unroll=options.get("unroll", False))
    ours = keras_lstm.LSTM(UNITS, return_sequences=True, unroll=options.get("unroll", False))
    theirs.build((None, STEPS, FEATURES))
    ours.build((None, STEPS, FEATURES))
    ours.set_weights(theirs.get_weights())
    call = {"mask": right_padded_mask()} if options.get("mask") else {}
    expected = np.asarray(keras.ops.convert_to_numpy(theirs(x, **call)))
    actual = np.asarray(keras.ops.convert_to_numpy(ours(x, **call)))
    assert actual.dtype == np.float32
    assert relative_error(actual, expected) < FORWARD_TOLERANCE


def test_integer_inputs_through_a_model_predict():
    inputs = keras.Input((STEPS, FEATURES), dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(1)(keras_lstm.LSTM(UNITS)(inputs)))
    x = np.random.default_rng(5).integers(-3, 4, (BATCH, STEPS, FEATURES)).astype("int32")
    expected = model.predict(x.astype("float32"), verbose=0)
    assert relative_error(model.predict(x, verbose=0), expected) < FORWARD_TOLERANCE


@pytest.mark.parametrize("implementation", [1, 2])
def test_implementation_is_accepted_and_computes_the_same(implementation):
    x = random_inputs(BATCH, STEPS, FEATURES)
    layer = keras_lstm.LSTM(UNITS, implementation=implementation)
    plain = keras_lstm.LSTM(UNITS)
    layer.build(x.shape)
    plain.build(x.shape)
    layer.set_weights(plain.get_weights())
    assert relative_error(keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(plain(x))) < 1e-6
    assert keras_lstm.LSTM.from_config(layer.get_config()).implementation == implementation
    with pytest.raises(ValueError, match=r"`implementation` must be 1 or 2"):
        keras_lstm.LSTM(UNITS, implementation=3)

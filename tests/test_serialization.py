"""Config round trips, .keras files, and weights that move between backends."""

import os
import subprocess
import sys

import numpy as np
import keras
import pytest

import keras_lstm
import portable_model
from support import BACKEND, as_list, random_inputs, relative_error, to_numpy

NON_DEFAULT_ARGUMENTS = dict(
    activation="relu",
    recurrent_activation="hard_sigmoid",
    use_bias=False,
    kernel_initializer="he_normal",
    recurrent_initializer="glorot_uniform",
    bias_initializer="ones",
    unit_forget_bias=False,
    kernel_regularizer="l2",
    recurrent_regularizer="l1",
    bias_regularizer="l1",
    kernel_constraint="max_norm",
    recurrent_constraint="non_neg",
    bias_constraint="unit_norm",
    dropout=0.1,
    recurrent_dropout=0.2,
    seed=7,
    peephole=True,
    proj_units=3,
    proj_clip=2.0,
    coupled_gates=True,
    layer_norm=True,
    layer_norm_epsilon=1e-4,
    cell_clip=5.0,
    gate_clip=7.0,
    zoneout_cell=0.1,
    zoneout_hidden=0.2,
)


@pytest.mark.parametrize("layer_class", [keras_lstm.LSTMCell, keras_lstm.LSTM])
def test_get_config_round_trip(layer_class):
    extra = {} if layer_class is keras_lstm.LSTMCell else dict(
        return_sequences=True, return_state=True, go_backwards=True, unroll=True, activity_regularizer="l2"
    )
    layer = layer_class(6, name="custom", **NON_DEFAULT_ARGUMENTS, **extra)
    config = layer.get_config()
    rebuilt = layer_class.from_config(config)
    assert rebuilt.get_config() == config
    for name, value in {**NON_DEFAULT_ARGUMENTS, **extra}.items():
        if not name.endswith(("initializer", "regularizer", "constraint", "activation")):
            assert getattr(rebuilt, name) == value, name
    # The same through Keras's generic (de)serialization, by registered name.
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"keras_lstm>{layer_class.__name__}"
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def test_keras_file_round_trip(tmp_path):
    x = random_inputs(4, portable_model.STEPS, portable_model.FEATURES)
    model = portable_model.build_model()
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for mine, reference in zip(as_list(loaded(x)), as_list(model(x))):
        assert relative_error(to_numpy(mine), to_numpy(reference)) == 0.0
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]


def test_stateful_layer_round_trips(tmp_path):
    model = keras.Sequential([keras.Input(batch_shape=(2, 4, 3)), keras_lstm.LSTM(5, stateful=True)])
    path = os.path.join(tmp_path, "stateful.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].stateful
    x = random_inputs(2, 4, 3)
    assert relative_error(to_numpy(loaded(x)), to_numpy(model(x))) < 1e-6


OTHER_BACKENDS = [b for b in ("tensorflow", "jax", "torch") if b != BACKEND]


def test_saved_files_load_on_the_other_backends(tmp_path):
    x = random_inputs(4, portable_model.STEPS, portable_model.FEATURES)
    model = portable_model.build_model()
    np.save(os.path.join(tmp_path, "inputs.npy"), x)
    model.save(os.path.join(tmp_path, "model.keras"))
    model.save_weights(os.path.join(tmp_path, "model.weights.h5"))
    expected = portable_model.outputs(model, x)
    script = os.path.join(os.path.dirname(__file__), "portable_model.py")
    for backend in OTHER_BACKENDS:
        environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        run = subprocess.run(
            [sys.executable, script, str(tmp_path)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, f"{backend}:\n{run.stderr[-3000:]}"
        results = np.load(os.path.join(tmp_path, f"outputs-{backend}.npz"))
        for kind in ("loaded", "rebuilt"):
            for index, reference in enumerate(expected):
                error = relative_error(results[f"{kind}_{index}"], reference)
                assert error < 1e-5, (backend, kind, index, error)

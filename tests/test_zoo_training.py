"""Recipe machinery: data parallelism on Keras's distribution API."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_lstm.zoo import training

# On two simulated devices: the recipe trains with its batches split, and one
# training step under DataParallel (each device takes half the batch, the
# gradients are averaged) gives the weights one step on one device gives.
DATA_PARALLEL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np
    from keras_lstm.zoo import electricity_forecaster as ef, training
    devices = keras.distribution.list_devices()
    trained, info = ef.train(None, epochs=1, checkpoint_dir=sys.argv[1], data_parallel=True)

    config = trained.config
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, config["window"], ef.FEATURES)).astype("float32")
    y = rng.standard_normal((64, ef.HORIZON)).astype("float32")
    def one_step(distribution, weights):
        with training.distribution_scope(distribution):
            model = ef.Model.build_model(config)
            model.set_weights(weights)
            model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=ef.pinball_loss(config["quantiles"]))
            model.train_on_batch(x, y)
        return model.get_weights()
    start = trained.model.get_weights()
    single = one_step(None, start)
    parallel = one_step(training.data_parallel(), start)
    error = max(float(np.max(np.abs(a - b))) for a, b in zip(single, parallel))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single, start))
    print(json.dumps({"devices": len(devices), "used": info["data_parallel_devices"],
                      "loss": info["final_loss"],
                      "error": error, "moved": moved}))
    """
)


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="the other backends' refusal")
def test_data_parallel_needs_the_jax_backend():
    with pytest.raises(ValueError, match="runs on the JAX backend; KERAS_BACKEND is"):
        training.data_parallel()


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution runs on JAX only")
def test_data_parallel_on_two_simulated_devices_matches_one_device(tmp_path):
    import json

    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL_SCRIPT, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["devices"] == 2 and report["used"] == 2
    assert np.isfinite(report["loss"])
    # The step moved the weights by ~1e-2 (Adam's first step); both ways agree far below that.
    assert report["moved"] > 1e-3
    assert report["error"] < 1e-5


def test_batch_size_must_split_over_the_devices():
    class TwoDevices:
        class device_mesh:
            class devices:
                @staticmethod
                def flatten():
                    return [0, 1]

    with pytest.raises(ValueError, match="batch_size=63 does not split over 2 devices"):
        training.check_batch_size(63, TwoDevices())

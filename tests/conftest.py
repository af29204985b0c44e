import os
import sys

import keras
import pytest

# The suite runs once per backend (see the Makefile); a run without
# KERAS_BACKEND would silently test only TensorFlow.
if "KERAS_BACKEND" not in os.environ:
    sys.exit("Set KERAS_BACKEND (tensorflow, jax or torch); `make test` runs all three.")

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


def pytest_report_header(config):
    return f"keras backend: {keras.backend.backend()}, keras {keras.__version__}"

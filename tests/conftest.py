import os
import sys

# The tests' models are small, so on JAX much of their time is XLA compiling (the jax
# run took twice the others'). At optimisation level 0 XLA's CPU backend compiles
# faster and computes the same function (the forecaster's and story reader's test
# files: 214 s -> 172 s). Set before `import keras`, which imports jax; only for JAX,
# since TensorFlow reads XLA_FLAGS too.
if os.environ.get("KERAS_BACKEND") == "jax":
    os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import keras  # noqa: E402
import pytest  # noqa: E402

# The suite runs once per backend (see the Makefile); a run without
# KERAS_BACKEND would silently test only TensorFlow.
if "KERAS_BACKEND" not in os.environ:
    sys.exit("Set KERAS_BACKEND (tensorflow, jax or torch); `make test` runs all three.")

sys.path.insert(0, os.path.dirname(__file__))

# On a GPU, torch's cuDNN and JAX's matrix products default to TF32 (about
# 1e-3 relative error). The suite checks the float32 function, so it asks
# every backend for full float32; users keep their framework's default.
if keras.backend.backend() == "torch":
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
elif keras.backend.backend() == "jax":
    import jax

    jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


def pytest_report_header(config):
    return f"keras backend: {keras.backend.backend()}, keras {keras.__version__}"

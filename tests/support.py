"""Helpers shared by the tests: gradients on the active backend, errors."""

import numpy as np
import keras
from keras import ops

BACKEND = keras.backend.backend()


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|: the suite's error measure."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(np.abs(expected).max(), 1e-12)
    return float(np.abs(actual - expected).max() / scale)


def random_inputs(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _weighted_sum(outputs):
    # Each output is weighted by fixed random coefficients so that every
    # element gets a distinct gradient (a plain sum would hide sign errors).
    total = 0.0
    for index, output in enumerate(outputs):
        coefficients = np.random.default_rng(100 + index).standard_normal(
            tuple(output.shape)
        )
        total = total + ops.sum(output * ops.convert_to_tensor(coefficients.astype("float32")))
    return total


def outputs_and_gradients(layer, inputs, **call_kwargs):
    """Calls a built `layer` on `inputs` and differentiates a weighted sum.

    Returns (outputs, gradients) as numpy arrays: the gradients are with
    respect to `inputs` first, then `layer.trainable_weights` in order.
    """
    weights = layer.trainable_weights
    inputs = np.asarray(inputs, "float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = as_list(layer(x, **call_kwargs))
            loss = _weighted_sum(outputs)
        gradients = tape.gradient(loss, [x] + [w.value for w in weights])
    elif BACKEND == "torch":
        import torch

        x = torch.tensor(inputs, requires_grad=True)
        outputs = as_list(layer(x, **call_kwargs))
        loss = _weighted_sum(outputs)
        gradients = torch.autograd.grad(loss, [x] + [w.value for w in weights])
    elif BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(x, trainable):
            outputs, _ = layer.stateless_call(
                trainable, non_trainable, x, **call_kwargs
            )
            outputs = as_list(outputs)
            return _weighted_sum(outputs), outputs

        (_, outputs), (input_gradient, weight_gradients) = jax.value_and_grad(
            loss_fn, argnums=(0, 1), has_aux=True
        )(inputs, [w.value for w in weights])
        gradients = [input_gradient] + list(weight_gradients)
    else:
        raise NotImplementedError(BACKEND)
    return [to_numpy(o) for o in outputs], [to_numpy(g) for g in gradients]

"""Argument and shape checks shared by the cell and the layer.

Every check raises before any computation, with a message that names the
argument, what was given and what was expected, so that a user never has to
read a backend stack trace to learn that a shape was wrong.
"""

import math
import numbers

import keras


def positive_int(name, value):
    """Returns `value` as an int, or raises if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"`{name}` must be a positive integer. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value}"
        )
    return int(value)


def optional_positive_int(name, value):
    """None, or `value` as a positive int."""
    return None if value is None else positive_int(name, value)


def finite_float(name, value):
    """`value` as a float, or raises if it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r} of type {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. Received: {name}={value}")
    return float(value)


def optional_positive_float(name, value):
    """None, or `value` as a positive float."""
    return None if value is None else positive_float(name, value, "or None")


def positive_float(name, value, alternative=""):
    """`value` as a positive float, or raises (`alternative`: what else the
    argument takes, for the message)."""
    expected = f"a positive number {alternative}".strip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be {expected}. Received: {name}={value!r} of type {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value}")
    return float(value)


def rate(name, value):
    """Returns `value` as a float in [0, 1), or raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{name}` must be a float in [0, 1). "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"`{name}` must be a float in [0, 1). Received: {name}={value}"
        )
    return float(value)


def activation(name, value):
    """Resolves an activation name or callable, naming the argument on failure."""
    try:
        return keras.activations.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{name}` must be the name of a Keras activation (e.g. 'tanh', "
            f"'sigmoid', 'relu'), a callable, or None. "
            f"Received: {name}={value!r}"
        ) from error


def static_shape(shape):
    """`shape` as a tuple of ints, None where a dimension is not a fixed int.

    While torch traces a model (torch.jit.trace, Keras's ONNX export on
    torch) dimensions arrive as tensors; comparing those with ints records a
    data-dependent branch and warns (TracerWarning). Such a dimension is
    checked as unknown instead.
    """
    return tuple(
        int(d) if isinstance(d, numbers.Integral) and not isinstance(d, bool) else None
        for d in shape
    )


def _shape(tensor):
    return static_shape(tensor.shape)


def sequence_shape(name, shape, features=None):
    """Checks a (batch, time, features) shape: known features when building
    (`features` None), the built size when calling."""
    _rank(name, shape, 3, "(batch, time, features)", features)


def step_shape(name, shape, features=None):
    """Checks a (batch, features) shape, and the feature size if given."""
    _rank(name, shape, 2, "(batch, features), for one step of the cell", features)


def _rank(name, shape, rank, layout, features):
    shape = static_shape(shape)
    if len(shape) != rank:
        raise ValueError(
            f"`{name}` must have rank {rank}, {layout}. Received: {name}.shape={shape}"
        )
    _feature_size(name, shape, features)


def _feature_size(name, shape, features):
    """Without `features` (building), the size must be known; with it (a
    call on a built layer), a known size must match it (one that is not a
    fixed int, as while torch traces, is not checked)."""
    if features is None and shape[-1] is None:
        raise ValueError(
            f"The last axis of `{name}` (features) must be known to build the "
            f"layer. Received: {name}.shape={shape}"
        )
    if features is not None and shape[-1] not in (None, features):
        raise ValueError(
            f"`{name}` has {shape[-1]} features but the layer was built for "
            f"{features} (kernel shape ({features}, 4 * units)). "
            f"Received: {name}.shape={shape}"
        )


def _dims_match(given, expected):
    return all(g is None or e is None or g == e for g, e in zip(given, expected))


def states(name, states, batch_size, hidden_size, units):
    """Checks that `states` is [h, c]: h (batch, hidden_size), c (batch, units)."""
    if not isinstance(states, (list, tuple)) or len(states) != 2:
        count = len(states) if isinstance(states, (list, tuple)) else 1
        raise ValueError(
            f"`{name}` must be a list of 2 tensors [h, c], of shapes "
            f"(batch, {hidden_size}) and (batch, {units}). Received {count} "
            f"{'tensor' if count == 1 else 'tensors'}."
        )
    for state_name, state, size in zip(("h", "c"), states, (hidden_size, units)):
        shape = _shape(state)
        expected = static_shape((batch_size, size))
        if len(shape) != 2 or not _dims_match(shape, expected):
            raise ValueError(
                f"`{name}` [{state_name}] must have shape (batch, {size}) = "
                f"{expected}. Received: shape={shape}"
            )


def mask(name, mask, batch_size, timesteps):
    """Checks a (batch, time) mask."""
    shape = _shape(mask)
    expected = static_shape((batch_size, timesteps))
    if len(shape) != 2 or not _dims_match(shape, expected):
        raise ValueError(
            f"`{name}` must have shape (batch, time) = {expected}, matching "
            f"the input sequences. Received: {name}.shape={shape}"
        )

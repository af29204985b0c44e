"""`LSTM`: an `LSTMCell` run over whole sequences."""

import keras
from keras import ops

from keras_lstm import paths, validation, variants
from keras_lstm.cell import LSTMCell, as_floats

# keras.layers.LSTM's own arguments besides the cell's, with their defaults.
_RNN_ARGUMENTS = {
    "return_sequences": False,
    "return_state": False,
    "go_backwards": False,
    "stateful": False,
    "unroll": False,
    "use_cudnn": "auto",
}
# The order in which keras.layers.LSTM takes its arguments positionally.
_POSITIONAL = (
    *variants.KERAS_NAMES[: variants.KERAS_NAMES.index("bias_regularizer") + 1],
    "activity_regularizer",
    *variants.KERAS_NAMES[variants.KERAS_NAMES.index("bias_regularizer") + 1 :],
    *_RNN_ARGUMENTS,
)


@keras.saving.register_keras_serializable(package="keras_lstm")
class LSTM(keras.layers.RNN):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997).

    Runs `keras_lstm.LSTMCell` over a (batch, time, features) sequence; see
    the cell for the equations and the weight layout (that of
    `keras.layers.LSTM`: `ours.set_weights(theirs.get_weights())` works both
    ways and gives the same outputs). The input projection x_t W + b is
    computed for all steps in one product before the recurrence.

    Args:
        units: positive int, size of h and c.
{options}
        activity_regularizer: regularizer of the layer's output.
        return_sequences: return h for every step, (batch, time, units),
            instead of the last one, (batch, units).
        return_state: also return the final [h, c].
        go_backwards: process the sequence in reverse (outputs come in the
            order processed).
        stateful: carry the final state of each batch into the next call
            (needs a fixed batch size); `reset_state()` zeroes it.
        unroll: unroll the loop in Python (needs a fixed time length).
        use_cudnn: "auto" (the fastest path that computes the same
            function), True (the backend's fused kernel, or a ValueError
            saying why it cannot run) or False (the reference loop); see
            `keras_lstm/paths.py`.

    Call arguments:
        sequences: (batch, time, features).
        initial_state: optional [h0, c0], each (batch, units).
        mask: optional (batch, time) booleans, e.g. from
            `keras.layers.Masking` or `Embedding(mask_zero=True)`; masked
            steps carry the state through unchanged.
        training: whether dropout applies.

    Example:

    >>> model = keras.Sequential([
    ...     keras.Input((20, 3)), LSTM(32), keras.layers.Dense(1)])
    >>> model(np.zeros((4, 20, 3))).shape
    (4, 1)
    """

    def __init__(self, units, *args, **kwargs):
        kwargs = variants.bind_positional("LSTM", _POSITIONAL, args, kwargs)
        layer_arguments = {name: kwargs.pop(name, default) for name, default in _RNN_ARGUMENTS.items()}
        options = variants.parse(kwargs)  # the cell's; the rest is the RNN's
        cell = LSTMCell(
            units,
            **options,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
        )
        use_cudnn = layer_arguments.pop("use_cudnn")
        super().__init__(cell, **layer_arguments, **kwargs)
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                "`use_cudnn` must be 'auto', True or False (as in keras.layers.LSTM). "
                f"Received: use_cudnn={use_cudnn!r}"
            )
        self.use_cudnn = use_cudnn
        paths.check_use_cudnn(self)
        if keras.backend.backend() == "tensorflow":
            # XLA fails to compile the gradient of the while loop (seen with
            # keras.ops.scan and with tf_scan), and cuDNN ops have no XLA
            # kernel, so keep fit() off XLA. Keras does not use XLA on a
            # CPU-only TensorFlow anyway.
            self.supports_jit = False

    def build(self, sequences_shape, initial_state_shape=None):
        validation.sequence_shape("sequences", sequences_shape)
        if self.unroll and sequences_shape[1] is None:
            raise ValueError(
                "`unroll=True` needs a fixed number of time steps: give the "
                "Input a time dimension, e.g. keras.Input((20, features)). "
                f"Received: sequences.shape={tuple(sequences_shape)}"
            )
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        validation.sequence_shape(
            "sequences", sequences.shape, self.cell.kernel.shape[0]
        )
        batch_size, timesteps = sequences.shape[0], sequences.shape[1]
        if initial_state is not None:
            validation.states(
                "initial_state",
                initial_state,
                batch_size,
                self.cell.hidden_size,
                self.units,
            )
        if isinstance(mask, (list, tuple)):
            mask = mask[0]  # the mask of the sequences, not of the states
        if mask is not None:
            validation.mask("mask", mask, batch_size, timesteps)
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        sequences = as_floats(sequences, self.compute_dtype)
        call = paths.Call(mask=mask)
        # keras.layers.RNN.call has cached one mask per sequence already.
        if training and cell.dropout > 0:
            call.input_dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
        if training and cell.recurrent_dropout > 0:
            call.recurrent_dropout_mask = cell.get_recurrent_dropout_mask(initial_state[0])
        # Zoneout masks for every step at once: (time, batch, size).
        steps, batch = ops.shape(sequences)[1], ops.shape(sequences)[0]
        call.zoneout_cell_keep = cell.zoneout_keep((steps, batch, cell.units), sequences.dtype, training)
        call.zoneout_hidden_keep = cell.zoneout_keep(
            (steps, batch, cell.hidden_size), sequences.dtype, training, hidden=True
        )
        # last_path names what ran, for tests and for users who profile.
        self.last_path, result = paths.run(self, sequences, initial_state, call)
        return result

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        return {**config, "units": self.units, **variants.config(self.cell), "use_cudnn": self.use_cudnn}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


for _name in ("units", *variants.NAMES):
    setattr(LSTM, _name, _cell_property(_name))
LSTM.__doc__ = LSTM.__doc__.replace("{options}", variants.describe())
variants.signature(LSTM.__init__, _POSITIONAL, {"activity_regularizer": None, **_RNN_ARGUMENTS})

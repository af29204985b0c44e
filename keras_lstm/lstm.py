"""`LSTM`: an `LSTMCell` run over whole sequences."""

import keras
from keras import ops

from keras_lstm import validation
from keras_lstm.cell import LSTMCell
from keras_lstm.recurrence import lstm_sequence

# The arguments that belong to the cell; the layer forwards them and exposes
# them as read-only properties, as keras.layers.LSTM does.
_CELL_ARGUMENTS = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
    "peephole",
    "proj_units",
    "proj_clip",
    "coupled_gates",
    "layer_norm",
    "layer_norm_epsilon",
    "cell_clip",
    "gate_clip",
    "zoneout_cell",
    "zoneout_hidden",
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
        units, activation, recurrent_activation, use_bias, the initializers,
            unit_forget_bias, the regularizers, the constraints, dropout,
            recurrent_dropout, seed: as in `LSTMCell`.
        peephole, proj_units, proj_clip, coupled_gates, layer_norm,
            layer_norm_epsilon, cell_clip, gate_clip, zoneout_cell,
            zoneout_hidden: the variants, as in `LSTMCell`; all off by default.
        activity_regularizer: regularizer of the layer's output.
        return_sequences: return h for every step, (batch, time, units),
            instead of the last one, (batch, units).
        return_state: also return the final [h, c].
        go_backwards: process the sequence in reverse (outputs come in the
            order processed).
        stateful: carry the final state of each batch into the next call
            (needs a fixed batch size); `reset_state()` zeroes it.
        unroll: unroll the loop in Python (needs a fixed time length).

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

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        peephole=False,
        proj_units=None,
        proj_clip=None,
        coupled_gates=False,
        layer_norm=False,
        layer_norm_epsilon=1e-5,
        cell_clip=None,
        gate_clip=None,
        zoneout_cell=0.0,
        zoneout_hidden=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            peephole=peephole,
            proj_units=proj_units,
            proj_clip=proj_clip,
            coupled_gates=coupled_gates,
            layer_norm=layer_norm,
            layer_norm_epsilon=layer_norm_epsilon,
            cell_clip=cell_clip,
            gate_clip=gate_clip,
            zoneout_cell=zoneout_cell,
            zoneout_hidden=zoneout_hidden,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        if keras.backend.backend() == "tensorflow":
            # XLA fails to compile the gradient of the while loop (seen with
            # keras.ops.scan and with tf_scan), so keep fit() off XLA. Keras
            # does not use XLA on a CPU-only TensorFlow anyway.
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
        input_mask = recurrent_mask = None
        # keras.layers.RNN.call has cached one mask per sequence already.
        if training and cell.dropout > 0:
            input_mask = cell.get_dropout_mask(sequences[:, 0, :])
        if training and cell.recurrent_dropout > 0:
            recurrent_mask = cell.get_recurrent_dropout_mask(initial_state[0])
        # Zoneout masks for every step at once: (time, batch, size).
        steps, batch = ops.shape(sequences)[1], ops.shape(sequences)[0]
        zoneout_cell_keep = cell.zoneout_keep((steps, batch, cell.units), sequences.dtype, training)
        zoneout_hidden_keep = cell.zoneout_keep(
            (steps, batch, cell.hidden_size), sequences.dtype, training, hidden=True
        )
        # Which implementation ran, for tests and for users who profile.
        self.last_path = choose_path(self, mask, recurrent_mask)
        if self.last_path == "torch_fused":
            from keras_lstm.torch_fused import fused_lstm_sequence

            return fused_lstm_sequence(
                cell,
                sequences,
                initial_state,
                mask=mask,
                go_backwards=self.go_backwards,
                zero_output_for_mask=self.zero_output_for_mask,
                input_dropout_mask=input_mask,
            )
        if self.last_path == "jax_cudnn":
            from keras_lstm.jax_cudnn import cudnn_lstm_sequence

            return cudnn_lstm_sequence(
                cell,
                sequences,
                initial_state,
                mask=mask,
                go_backwards=self.go_backwards,
                zero_output_for_mask=self.zero_output_for_mask,
                input_dropout_mask=input_mask,
            )
        return lstm_sequence(
            cell,
            sequences,
            initial_state,
            mask=mask,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            input_dropout_mask=input_mask,
            recurrent_dropout_mask=recurrent_mask,
            project_inputs_first=self.last_path == "scan",
            scan=_tf_scan() if self.last_path == "tf_while" else ops.scan,
            zoneout_cell_keep=zoneout_cell_keep,
            zoneout_hidden_keep=zoneout_hidden_keep,
        )

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        config.update({name: cell_config[name] for name in _CELL_ARGUMENTS})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def choose_path(layer, mask, recurrent_dropout_mask):
    """Names the implementation that computes `layer` for this call.

    - "unrolled": `unroll=True`, a Python loop over the steps.
    - "torch_fused": torch's fused LSTM kernel, on the torch backend in
      float32 for the plain LSTM (or with proj_units, torch's proj_size) with
      the standard activations
      and no recurrent dropout, with no
      mask or a right-padded one (then through packed sequences; with
      `go_backwards`, each sequence reversed within its length).
    - "jax_cudnn": on JAX with a GPU, cuDNN's fused kernel through
      `jax.experimental.rnn`, for the plain LSTM in float32 with the standard
      activations and no recurrent dropout, with no mask or a right-padded
      one. A traced mask is checked at run time and any other mask takes the
      scan inside the same call.
    - "scan_step_projection": on JAX, a scan that projects x_t inside each
      step (on XLA CPU 12.7 ms against 23 ms for projecting all steps first).
    - "tf_while": on TensorFlow, the same per-step projection in a plain
      `tf.while_loop` (15 ms against 20 ms for the reference).
    - "scan": the reference, all input projections first, then
      `keras.ops.scan`.
    """
    cell = layer.cell
    backend = keras.backend.backend()
    if layer.unroll:
        return "unrolled"
    standard = (
        cell.variants <= {"proj_units"}  # torch's kernel has proj_size
        and cell.activation is keras.activations.tanh
        and cell.recurrent_activation is keras.activations.sigmoid
        and layer.compute_dtype == "float32"
    )
    if backend == "torch" and standard and recurrent_dropout_mask is None:
        from keras_lstm.torch_fused import right_padded

        if mask is None or right_padded(mask):
            return "torch_fused"
    if backend == "jax" and standard and cell.is_plain and recurrent_dropout_mask is None:
        from keras_lstm import jax_cudnn

        if jax_cudnn.gpu_available() and (
            mask is None or jax_cudnn.maybe_right_padded(mask)
        ):
            return "jax_cudnn"
    if backend == "jax":
        return "scan_step_projection"
    if backend == "tensorflow":
        return "tf_while"
    return "scan"


def _tf_scan():
    from keras_lstm.tf_scan import scan

    return scan


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


for _name in _CELL_ARGUMENTS:
    setattr(LSTM, _name, _cell_property(_name))

"""`LSTMCell`: the weights of an LSTM and one step of its recurrence."""

import keras
from keras import ops

# Keras's own mixin that caches one dropout mask per sequence (so dropout is
# variational) and that `keras.layers.RNN` resets between batches. It lives in
# keras.src; keras is pinned, and a test covers the behaviour we rely on.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_lstm import gates, validation, variants
from keras_lstm.recurrence import lstm_sequence


@keras.saving.register_keras_serializable(package="keras_lstm")
class LSTMCell(keras.layers.Layer, DropoutRNNCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997).

    One step, with z = x_t W + h_{t-1} U + b in gate order (i, f, c, o):

        i_t = sigma(z_i)                  input gate
        f_t = sigma(z_f)                  forget gate
        g_t = tanh(z_c)                   candidate cell state
        o_t = sigma(z_o)                  output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    W is `kernel` (input_dim, 4 * units), U is `recurrent_kernel`
    (units, 4 * units) and b is `bias` (4 * units,): the same layout as
    `keras.layers.LSTMCell`, so weights copy across with `set_weights`. The
    variants' equations are in `keras_lstm/gates.py`.

    Args:
        units: positive int, size of h and c.
{options}

    Call arguments:
        inputs: x_t, (batch, features); or a whole sequence
            (batch, time, features) when `states` is omitted.
        states: [h_{t-1}, c_{t-1}], each (batch, units).
        training: whether dropout applies.

    Returns:
        With `states`: (h_t, [h_t, c_t]), the contract of
        `keras.layers.RNN`. Without `states`, on a sequence: h of the last
        step, starting from zeros, so a cell can stand in a `Sequential`.

    Example:

    >>> cell = LSTMCell(8)
    >>> rnn = keras.layers.RNN(cell)                 # over a sequence
    >>> rnn(np.zeros((2, 5, 3))).shape
    (2, 8)
    >>> h, (h, c) = cell(np.zeros((2, 3)), [np.zeros((2, 8))] * 2)  # one step
    >>> keras.Sequential([LSTMCell(8)])(np.zeros((2, 5, 3))).shape
    (2, 8)
    """

    def __init__(self, units, *args, **kwargs):
        # Every option of variants.OPTIONS, checked; the rest is the Layer's.
        kwargs = variants.bind_positional("LSTMCell", variants.KERAS_NAMES, args, kwargs)
        options = variants.parse(kwargs)
        super().__init__(**kwargs)
        self.units = validation.positive_int("units", units)
        for name, value in options.items():
            setattr(self, name, value)
        self.seed_generator = keras.random.SeedGenerator(seed=self.seed)
        self.hidden_size = self.proj_units or self.units
        self.state_size = [self.hidden_size, self.units]
        self.output_size = self.hidden_size

    @property
    def gate_count(self):
        return len(gates.gate_names(self.coupled_gates))

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 3:  # a whole sequence, see `call`
            validation.sequence_shape("inputs", input_shape)
        else:
            validation.step_shape("inputs", input_shape)
        for weight in variants.weights_of(self):
            variable = self.add_weight(
                shape=variants.weight_shape(self, weight, input_shape[-1]),
                name=weight.name,
                initializer=self._initializer(weight),
                regularizer=getattr(self, weight.regularizer) if weight.regularizer else None,
                constraint=getattr(self, weight.constraint) if weight.constraint else None,
            )
            setattr(self, weight.name, variable)
        if not self.use_bias:
            self.bias = None

    def _initializer(self, weight):
        if weight.name == "bias":
            return self._initial_bias
        return getattr(self, weight.initializer, weight.initializer)

    def _initial_bias(self, shape, dtype=None):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype=dtype)
        blocks = [
            ops.ones((self.units,), dtype=dtype)
            if name == "f"
            else self.bias_initializer((self.units,), dtype=dtype)
            for name in gates.gate_names(self.coupled_gates)
        ]
        return ops.concatenate(blocks)

    def step_params(self):
        """The options and weights for `gates.step`, each weight read once."""
        return gates.read_params(self, lambda variable, name: ops.convert_to_tensor(variable))

    def call(self, inputs, states=None, training=False):
        if states is None:
            return self._last_output(inputs, training)
        validation.step_shape("inputs", inputs.shape, self.kernel.shape[0])
        validation.states(
            "states", states, inputs.shape[0], self.hidden_size, self.units
        )
        inputs = as_floats(inputs, self.compute_dtype)
        h_prev, c_prev = states
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = self.get_recurrent_dropout_mask(h_prev)
        p = self.step_params()
        h, c = gates.step(
            p,
            gates.project_input(p, inputs),
            h_prev,
            c_prev,
            recurrent_dropout_mask=recurrent_mask,
            keep_c=self.zoneout_keep(ops.shape(c_prev), c_prev.dtype, training),
            keep_h=self.zoneout_keep(ops.shape(h_prev), h_prev.dtype, training, hidden=True),
        )
        return h, [h, c]

    def zoneout_keep(self, shape, dtype, training, hidden=False):
        """Where each unit keeps its previous value: a mask of `shape`.

        A fresh Bernoulli mask in training (for one step, or for every step
        at once with shape (time, batch, size)), the rate itself at inference
        (the expectation), None without zoneout.
        """
        rate = self.zoneout_hidden if hidden else self.zoneout_cell
        if rate == 0:
            return None
        if not training:
            return rate
        return ops.cast(keras.random.uniform(shape, seed=self.seed_generator) < rate, dtype)

    def _last_output(self, sequences, training):
        # A cell placed directly in a Sequential model is called on the whole
        # sequence: run it over the sequence from a zero state.
        if len(sequences.shape) != 3:
            raise ValueError(
                "`states` is required for one step of the cell: call "
                "cell(x_t, [h, c]) with x_t (batch, features), or call it "
                "without states on a whole sequence (batch, time, features). "
                f"Received: inputs.shape={tuple(sequences.shape)}, states=None"
            )
        validation.sequence_shape(
            "inputs", sequences.shape, self.kernel.shape[0]
        )
        sequences = as_floats(sequences, self.compute_dtype)
        initial_state = self.get_initial_state(ops.shape(sequences)[0])
        input_mask = recurrent_mask = None
        if training and self.dropout > 0:
            input_mask = self.get_dropout_mask(sequences[:, 0, :])
        if training and self.recurrent_dropout > 0:
            recurrent_mask = self.get_recurrent_dropout_mask(initial_state[0])
        steps, batch = ops.shape(sequences)[1], ops.shape(sequences)[0]
        last_output, _, _ = lstm_sequence(
            self,
            sequences,
            initial_state,
            input_dropout_mask=input_mask,
            recurrent_dropout_mask=recurrent_mask,
            zoneout_cell_keep=self.zoneout_keep((steps, batch, self.units), sequences.dtype, training),
            zoneout_hidden_keep=self.zoneout_keep(
                (steps, batch, self.hidden_size), sequences.dtype, training, hidden=True
            ),
        )
        self.reset_dropout_mask()
        self.reset_recurrent_dropout_mask()
        return last_output

    def compute_output_shape(self, inputs_shape, states_shape=None):
        batch = inputs_shape[0]
        if states_shape is None:
            return (batch, self.hidden_size)
        return (batch, self.hidden_size), [
            (batch, self.hidden_size),
            (batch, self.units),
        ]

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def get_config(self):
        return {**super().get_config(), "units": self.units, **variants.config(self)}


def as_floats(inputs, dtype):
    """Integer (or boolean) inputs cast to the layer's dtype, as Keras's LSTM
    does; float inputs were already cast by Keras's autocasting."""
    inputs = ops.convert_to_tensor(inputs)
    if keras.backend.standardize_dtype(inputs.dtype) != dtype and not _is_float(inputs.dtype):
        return ops.cast(inputs, dtype)
    return inputs


def _is_float(dtype):
    return "float" in keras.backend.standardize_dtype(dtype)


LSTMCell.__doc__ = LSTMCell.__doc__.replace("{options}", variants.describe())
variants.signature(LSTMCell.__init__, variants.KERAS_NAMES)

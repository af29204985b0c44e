"""`LSTMCell`: the weights of an LSTM and one step of its recurrence."""

import keras
from keras import ops

# Keras's own mixin that caches one dropout mask per sequence (so dropout is
# variational) and that `keras.layers.RNN` resets between batches. It lives in
# keras.src; keras is pinned, and a test covers the behaviour we rely on.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_lstm import validation
from keras_lstm.gates import gate_names, lstm_update, zoneout
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
    `keras.layers.LSTMCell`, so weights copy across with `set_weights`.

    Args:
        units: positive int, size of h and c.
        activation: used for g_t and on c_t (default "tanh").
        recurrent_activation: used for the gates (default "sigmoid").
        use_bias: whether to add b.
        kernel_initializer, recurrent_initializer, bias_initializer:
            initializers of W, U and b.
        unit_forget_bias: if True, b_f starts at 1 (Jozefowicz et al. 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            regularizers of W, U and b.
        kernel_constraint, recurrent_constraint, bias_constraint:
            constraints of W, U and b.
        dropout: rate in [0, 1) dropped from x_t, one mask per sequence.
        recurrent_dropout: rate in [0, 1) dropped from h_{t-1} where it
            enters the gates, one mask per sequence (Gal & Ghahramani 2016).
            One mask is shared by the four gates, so they stay one product.
        seed: seed of the dropout and zoneout masks.
        peephole: add diagonal cell-to-gate weights `peephole_i`,
            `peephole_f` (from c_{t-1}) and `peephole_o` (from c_t).
        proj_units: if set, h_t is projected to this size by
            `projection_kernel` (units, proj_units) (LSTMP); h and the
            output then have proj_units, c keeps units.
        proj_clip: clip the projected h_t to [-proj_clip, proj_clip]
            (needs proj_units).
        coupled_gates: CIFG, the input gate is 1 - forget gate; z then has
            three blocks (f, c, o), so W, U and b have 3 * units columns.
        layer_norm: normalize each gate's pre-activation (scale
            `gate_norm_scale`, then the bias) and the cell state before the
            output activation (`cell_norm_scale`, `cell_norm_center`).
        layer_norm_epsilon: added to the variance in layer norm.
        cell_clip: clip c_t to [-cell_clip, cell_clip].
        gate_clip: clip every gate pre-activation to [-gate_clip, gate_clip]
            (ONNX's LSTM `clip`).
        zoneout_cell, zoneout_hidden: rates in [0, 1) (Krueger et al. 2016):
            in training each unit of c (h) keeps its previous value with this
            probability, drawn anew at every step; at inference the
            expectation, rate * previous + (1 - rate) * new.

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = validation.positive_int("units", units)
        self.activation = validation.activation("activation", activation)
        self.recurrent_activation = validation.activation(
            "recurrent_activation", recurrent_activation
        )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(
            recurrent_regularizer
        )
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = validation.rate("dropout", dropout)
        self.recurrent_dropout = validation.rate(
            "recurrent_dropout", recurrent_dropout
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.peephole = bool(peephole)
        self.proj_units = validation.optional_positive_int("proj_units", proj_units)
        self.proj_clip = validation.optional_positive_float("proj_clip", proj_clip)
        if self.proj_clip is not None and self.proj_units is None:
            raise ValueError(
                "`proj_clip` clips the projection, so it needs `proj_units`. "
                f"Received: proj_clip={proj_clip}, proj_units=None"
            )
        self.coupled_gates = bool(coupled_gates)
        self.layer_norm = bool(layer_norm)
        self.layer_norm_epsilon = validation.optional_positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )
        self.cell_clip = validation.optional_positive_float("cell_clip", cell_clip)
        self.gate_clip = validation.optional_positive_float("gate_clip", gate_clip)
        self.zoneout_cell = validation.rate("zoneout_cell", zoneout_cell)
        self.zoneout_hidden = validation.rate("zoneout_hidden", zoneout_hidden)
        self.hidden_size = self.proj_units or self.units
        self.state_size = [self.hidden_size, self.units]
        self.output_size = self.hidden_size

    @property
    def gate_count(self):
        return len(gate_names(self.coupled_gates))

    @property
    def bias_in_projection(self):
        """Whether b is added with x_t W (with layer norm it comes after LN)."""
        return self.use_bias and not self.layer_norm

    @property
    def variants(self):
        """The names of the variant arguments that are on."""
        names = (
            "peephole", "proj_units", "proj_clip", "coupled_gates", "layer_norm",
            "cell_clip", "gate_clip", "zoneout_cell", "zoneout_hidden",
        )
        return {name for name in names if getattr(self, name)}

    @property
    def is_plain(self):
        """No variant is on: the classic LSTM that fused kernels compute."""
        return not self.variants

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 3:  # a whole sequence, see `call`
            validation.sequence_shape("inputs", input_shape)
        else:
            validation.step_shape("inputs", input_shape)
        input_dim = input_shape[-1]
        gates_width = self.gate_count * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, gates_width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.hidden_size, gates_width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(gates_width,),
                name="bias",
                initializer=self._initial_bias,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        if self.peephole:
            for gate in ("i", "f", "o"):
                if gate == "i" and self.coupled_gates:
                    continue  # no input gate of its own
                setattr(
                    self,
                    f"peephole_{gate}",
                    self.add_weight(shape=(self.units,), name=f"peephole_{gate}", initializer="zeros"),
                )
        if self.proj_units is not None:
            self.projection_kernel = self.add_weight(
                shape=(self.units, self.proj_units),
                name="projection_kernel",
                initializer=self.kernel_initializer,
            )
        if self.layer_norm:
            self.gate_norm_scale = self.add_weight(
                shape=(gates_width,), name="gate_norm_scale", initializer="ones"
            )
            self.cell_norm_scale = self.add_weight(
                shape=(self.units,), name="cell_norm_scale", initializer="ones"
            )
            self.cell_norm_center = self.add_weight(
                shape=(self.units,), name="cell_norm_center", initializer="zeros"
            )

    def _initial_bias(self, shape, dtype=None):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype=dtype)
        blocks = [
            ops.ones((self.units,), dtype=dtype)
            if name == "f"
            else self.bias_initializer((self.units,), dtype=dtype)
            for name in gate_names(self.coupled_gates)
        ]
        return ops.concatenate(blocks)

    def call(self, inputs, states=None, training=False):
        if states is None:
            return self._last_output(inputs, training)
        validation.step_shape("inputs", inputs.shape, self.kernel.shape[0])
        validation.states(
            "states", states, inputs.shape[0], self.hidden_size, self.units
        )
        h_prev, c_prev = states
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        h_recurrent = h_prev
        if training and self.recurrent_dropout > 0:
            h_recurrent = h_prev * self.get_recurrent_dropout_mask(h_prev)
        z = ops.matmul(inputs, self.kernel) + ops.matmul(
            h_recurrent, self.recurrent_kernel
        )
        if self.bias_in_projection:
            z = z + self.bias
        h, c = lstm_update(self, z, c_prev)
        c = zoneout(c_prev, c, self.zoneout_keep(ops.shape(c_prev), c_prev.dtype, training))
        h = zoneout(h_prev, h, self.zoneout_keep(ops.shape(h_prev), h_prev.dtype, training, hidden=True))
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
        initial_state = self.get_initial_state(ops.shape(sequences)[0])
        input_mask = recurrent_mask = None
        if training and self.dropout > 0:
            input_mask = self.get_dropout_mask(sequences[:, 0, :])
        if training and self.recurrent_dropout > 0:
            recurrent_mask = self.get_recurrent_dropout_mask(initial_state[0])
        last_output, _, _ = lstm_sequence(
            self,
            sequences,
            initial_state,
            input_dropout_mask=input_mask,
            recurrent_dropout_mask=recurrent_mask,
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
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": keras.initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": keras.regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": keras.regularizers.serialize(
                self.bias_regularizer
            ),
            "kernel_constraint": keras.constraints.serialize(
                self.kernel_constraint
            ),
            "recurrent_constraint": keras.constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": keras.constraints.serialize(
                self.bias_constraint
            ),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "peephole": self.peephole,
            "proj_units": self.proj_units,
            "proj_clip": self.proj_clip,
            "coupled_gates": self.coupled_gates,
            "layer_norm": self.layer_norm,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "cell_clip": self.cell_clip,
            "gate_clip": self.gate_clip,
            "zoneout_cell": self.zoneout_cell,
            "zoneout_hidden": self.zoneout_hidden,
        }
        return {**super().get_config(), **config}

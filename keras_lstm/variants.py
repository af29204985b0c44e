"""What an LSTM cell can be, stated once: every option, its default, its
check, the weights it adds, and which fast paths, interop targets and
exporters take it.

`LSTMCell` and `LSTM` take these options as keyword arguments; their
constructors, `get_config`, argument checks and weight creation read this
table, and so do the fast paths (`paths.py`), `interop.to_torch` and the
exporters when they decide whether they can compute a cell. Adding a variant
is one row here (and one weight row if it has weights) plus its equation in
`gates.py`.

A consumer "takes" a cell when every option that is not at its default is
taken by it. The loops (`recurrence.py`) take everything; the consumers that
take only some cells are named below. `capability_table()` writes the README's
table from this one.
"""

import dataclasses
from typing import Callable

import keras

from keras_lstm import validation

# The consumers that compute only some LSTMs. Anything not listed in an
# option's `taken_by` refuses a cell with that option on.
TORCH_FUSED = "torch_fused"  # torch's fused kernel (oneDNN on CPU, cuDNN on CUDA)
JAX_CUDNN = "jax_cudnn"  # cuDNN through jax.experimental.rnn
TF_CUDNN = "tf_cudnn"  # cuDNN through Keras's TensorFlow backend (`lstm`)
TORCH_MODULE = "torch.nn.LSTM"  # interop.to_torch
ONNX_LSTM = "ONNX LSTM op"  # export: else the step in plain ONNX ops in a Scan
TFLITE_FUSED = "TFLite UNIDIRECTIONAL_SEQUENCE_LSTM"  # export: else plain builtins
# Quantized TFLite: the converter quantizes the weights of the LSTM it fuses
# itself, which is the plain one (export/tflite_lstm.py).
TFLITE_QUANTIZED = "quantized TFLite"
CONSUMERS = (TORCH_FUSED, JAX_CUDNN, TF_CUDNN, TORCH_MODULE, ONNX_LSTM, TFLITE_FUSED, TFLITE_QUANTIZED)
EVERYONE = frozenset(CONSUMERS)


def _boolean(name, value):
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise TypeError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def _implementation(name, value):
    if value not in (1, 2) or isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be 1 or 2 (as in keras.layers.LSTM; both compute the same "
            f"function here). Received: {name}={value!r}"
        )
    return int(value)


def _keras_object(module):
    def check(name, value):
        try:
            return module.get(value)
        except (ValueError, TypeError) as error:
            raise ValueError(f"`{name}`: {error} Received: {name}={value!r}") from error

    return check


def _identity(name, value):
    return value


@dataclasses.dataclass(frozen=True)
class Option:
    """One constructor argument of the cell.

    `check(name, value)` validates and returns the stored value;
    `serialize(value)` gives what `get_config` holds. `taken_by` names the
    consumers that compute the cell with this option away from its default.
    `needs` names an option that must be on for this one to mean anything.
    `variant` marks the options that make an LSTM other than the classic one
    (the README's "Variants"); the others are Keras's own arguments. `doc`
    is the constructor docstring's line.
    """

    name: str
    default: object
    check: Callable = _identity
    serialize: Callable = lambda value: value  # noqa: E731
    taken_by: frozenset = EVERYONE
    needs: str = None
    variant: bool = False
    doc: str = ""

    def is_on(self, value):
        """Whether `value` (as stored) differs from the default."""
        return self.serialize(value) != self.serialize(self.check(self.name, self.default))


_activation = dict(check=validation.activation, serialize=keras.activations.serialize)
_NOT_TF_CUDNN = EVERYONE - {TF_CUDNN}

OPTIONS = (
    # Keras's own arguments, in keras.layers.LSTMCell's order.
    Option("activation", "tanh", doc="used for g_t and on c_t.", taken_by=frozenset(), **_activation),
    Option("recurrent_activation", "sigmoid", doc="used for the gates.", taken_by=frozenset(), **_activation),
    # Keras's cuDNN path needs the bias (keras.src.backend.tensorflow.rnn.cudnn_ok).
    Option("use_bias", True, _boolean, doc="whether to add b.", taken_by=_NOT_TF_CUDNN),
    *(
        Option(f"{weight}_initializer", default, _keras_object(keras.initializers), keras.initializers.serialize,
               doc=f"initializer of {symbol}.")
        for weight, symbol, default in (("kernel", "W", "glorot_uniform"), ("recurrent", "U", "orthogonal"), ("bias", "b", "zeros"))
    ),
    Option("unit_forget_bias", True, _boolean, doc="b_f starts at 1 (Jozefowicz et al. 2015)."),
    *(
        Option(f"{weight}_{kind}", None, _keras_object(module), module.serialize, doc=f"{kind} of {symbol}.")
        for kind, module in (("regularizer", keras.regularizers), ("constraint", keras.constraints))
        for weight, symbol in (("kernel", "W"), ("recurrent", "U"), ("bias", "b"))
    ),
    # Dropout on x_t is applied before any path; recurrent dropout in training
    # is a per-call condition of each fused path (see paths.py).
    Option("dropout", 0.0, validation.rate, doc="rate in [0, 1) dropped from x_t, one mask per sequence."),
    Option(
        "recurrent_dropout", 0.0, validation.rate,
        doc="rate in [0, 1) dropped from h_{t-1} where it enters the gates, one mask per sequence "
        "(Gal & Ghahramani 2016), shared by the gates so that they stay one product.",
    ),
    Option("seed", None, doc="seed of the dropout and zoneout masks."),
    Option(
        "implementation", 2, _implementation,
        doc="1 or 2, accepted as keras.layers.LSTM does; the same function either way (one product here).",
    ),
    # The variants: gates.py has their equations.
    Option(
        "peephole", False, _boolean, variant=True, taken_by=frozenset({ONNX_LSTM, TFLITE_FUSED}),
        doc="diagonal cell-to-gate weights peephole_i, peephole_f (from c_{t-1}) and peephole_o (from c_t).",
    ),
    Option(
        "proj_units", None, validation.optional_positive_int, variant=True,
        taken_by=frozenset({TORCH_FUSED, TORCH_MODULE, TFLITE_FUSED}),
        doc="h_t projected to this size by projection_kernel (units, proj_units) (LSTMP); c keeps units.",
    ),
    Option(
        "proj_clip", None, validation.optional_positive_float, variant=True, needs="proj_units",
        taken_by=frozenset({TFLITE_FUSED}), doc="the projected h_t clipped to [-proj_clip, proj_clip].",
    ),
    Option(
        "coupled_gates", False, _boolean, variant=True, taken_by=frozenset({ONNX_LSTM, TFLITE_FUSED}),
        doc="CIFG: i_t = 1 - f_t; z has three blocks (f, c, o), so W, U and b have 3 * units columns.",
    ),
    Option(
        "forget_bias", 0.0, validation.finite_float, variant=True, taken_by=frozenset(),
        doc="a constant added to z_f, as TensorFlow 1's BasicLSTMCell and LSTMBlockCell; not a weight.",
    ),
    Option(
        "layer_norm", False, _boolean, variant=True, taken_by=frozenset(),
        doc="each gate pre-activation normalized (gate_norm_scale, then b), and c_t before the output "
        "activation (cell_norm_scale, cell_norm_center).",
    ),
    Option(
        "layer_norm_epsilon", 1e-5, validation.positive_float, needs="layer_norm",
        doc="added to the variance in layer norm.",
    ),
    Option(
        "cell_clip", None, validation.optional_positive_float, variant=True, taken_by=frozenset({TFLITE_FUSED}),
        doc="c_t clipped to [-cell_clip, cell_clip].",
    ),
    Option(
        "gate_clip", None, validation.optional_positive_float, variant=True, taken_by=frozenset({ONNX_LSTM}),
        doc="every gate pre-activation clipped to [-gate_clip, gate_clip] (ONNX's LSTM `clip`).",
    ),
    Option(
        "zoneout_cell", 0.0, validation.rate, variant=True, taken_by=frozenset(),
        doc="rate in [0, 1) (Krueger et al. 2016): in training each unit of c keeps its previous value "
        "with this probability, drawn anew each step; at inference the expectation.",
    ),
    Option("zoneout_hidden", 0.0, validation.rate, variant=True, taken_by=frozenset(), doc="the same for h."),
)
BY_NAME = {option.name: option for option in OPTIONS}
NAMES = tuple(BY_NAME)
VARIANTS = tuple(option.name for option in OPTIONS if option.variant)
# keras.layers.LSTMCell's arguments after `units`, which Keras also takes
# positionally, in its order; the variants are keyword-only.
KERAS_NAMES = NAMES[: NAMES.index("seed") + 1]


@dataclasses.dataclass(frozen=True)
class Weight:
    """A weight of the cell: its name, shape and initializer, and when it exists.

    `shape` names sizes the cell knows: "input_dim", "units", "hidden" (h's
    size: proj_units or units) and "gates" (the width of z: 3 or 4 blocks of
    units). `initializer` is an initializer name, or the option holding one.
    `needs` is the option that must be on (None: always); `unless`, an
    option that must be off.
    """

    name: str
    shape: tuple
    initializer: str
    needs: str = None
    unless: str = None
    regularizer: str = None
    constraint: str = None


# In the order they are created, which is the order of `cell.weights` (and of
# the variables in saved files): Keras's three first.
WEIGHTS = (
    Weight("kernel", ("input_dim", "gates"), "kernel_initializer", None, None, "kernel_regularizer", "kernel_constraint"),
    Weight("recurrent_kernel", ("hidden", "gates"), "recurrent_initializer", None, None, "recurrent_regularizer", "recurrent_constraint"),
    Weight("bias", ("gates",), "bias_initializer", "use_bias", None, "bias_regularizer", "bias_constraint"),
    Weight("peephole_i", ("units",), "zeros", "peephole", unless="coupled_gates"),  # no input gate of its own
    Weight("peephole_f", ("units",), "zeros", "peephole"),
    Weight("peephole_o", ("units",), "zeros", "peephole"),
    Weight("projection_kernel", ("units", "proj_units"), "kernel_initializer", "proj_units"),
    Weight("gate_norm_scale", ("gates",), "ones", "layer_norm"),
    Weight("cell_norm_scale", ("units",), "ones", "layer_norm"),
    Weight("cell_norm_center", ("units",), "zeros", "layer_norm"),
)
WEIGHT_NAMES = tuple(weight.name for weight in WEIGHTS)


def parse(kwargs):
    """Pops every option from `kwargs` and returns {name: checked value}.

    Missing options get their default; the rest of `kwargs` (a layer's own
    arguments, or unknown names for Keras to refuse) stays.
    """
    values = {}
    for option in OPTIONS:
        value = kwargs.pop(option.name, option.default)
        values[option.name] = option.check(option.name, value)
    for option in OPTIONS:
        if option.needs and option.is_on(values[option.name]) and not values[option.needs]:
            raise ValueError(
                f"`{option.name}` needs `{option.needs}`. Received: "
                f"{option.name}={values[option.name]!r}, {option.needs}={values[option.needs]!r}"
            )
    return values


def config(cell):
    """{name: serialized value} of every option: `get_config`'s part."""
    return {option.name: option.serialize(getattr(cell, option.name)) for option in OPTIONS}


def variants_on(cell):
    """The names of the variants that are on."""
    return {name for name in VARIANTS if BY_NAME[name].is_on(getattr(cell, name))}


def refusals(cell, consumer):
    """Why `consumer` cannot compute `cell`: ["peephole=True", ...], [] if it can."""
    return [
        f"{option.name}={option.serialize(getattr(cell, option.name))!r}"
        for option in OPTIONS
        if consumer not in option.taken_by and option.is_on(getattr(cell, option.name))
    ]


def weights_of(cell):
    """The `Weight` rows that `cell` (with its options) has, in order."""
    return [
        weight
        for weight in WEIGHTS
        if (weight.needs is None or getattr(cell, weight.needs))
        and (weight.unless is None or not getattr(cell, weight.unless))
    ]


def weight_shape(cell, weight, input_dim):
    sizes = {
        "input_dim": input_dim,
        "units": cell.units,
        "hidden": cell.hidden_size,
        "gates": cell.gate_count * cell.units,
        "proj_units": cell.proj_units,
    }
    return tuple(sizes[size] for size in weight.shape)


def describe(indent="        "):
    """The options as a docstring's Args lines (name, default, doc)."""
    import textwrap

    lines = []
    for option in OPTIONS:
        text = f"{option.name}={option.default!r}: {option.doc}"
        lines += textwrap.wrap(text, 76, initial_indent=indent, subsequent_indent=indent + "    ")
    return "\n".join(lines)


def bind_positional(owner, names, args, kwargs):
    """`kwargs` with `args` added under `names`, in order, as Keras's
    constructors take their arguments positionally."""
    if len(args) > len(names):
        raise TypeError(f"{owner} takes at most {len(names) + 1} positional arguments ({len(args) + 1} given)")
    for name, value in zip(names, args):
        if name in kwargs:
            raise TypeError(f"{owner} got multiple values for argument `{name}`")
        kwargs[name] = value
    return kwargs


def signature(function, positional, extra_defaults=None):
    """Sets `function.__signature__` (for help() and editors; the
    constructors take **kwargs): self, units, then `positional` (option or
    other names, positional-or-keyword), then the remaining options
    keyword-only, then **kwargs. `extra_defaults` gives the defaults of the
    names that are not options."""
    import inspect

    P = inspect.Parameter
    defaults = {option.name: option.default for option in OPTIONS} | (extra_defaults or {})
    parameters = [P("self", P.POSITIONAL_OR_KEYWORD), P("units", P.POSITIONAL_OR_KEYWORD)]
    parameters += [P(name, P.POSITIONAL_OR_KEYWORD, default=defaults[name]) for name in positional]
    parameters += [P(name, P.KEYWORD_ONLY, default=option.default) for name, option in BY_NAME.items() if name not in positional]
    parameters.append(P("kwargs", P.VAR_KEYWORD))
    function.__signature__ = inspect.Signature(parameters)


# The README's table: (column heading, consumer) and the rows it shows.
_TABLE_COLUMNS = (
    ("torch fused", TORCH_FUSED),
    ("JAX cuDNN", JAX_CUDNN),
    ("TF cuDNN", TF_CUDNN),
    ("`torch.nn.LSTM`", TORCH_MODULE),
    ("ONNX `LSTM` op", ONNX_LSTM),
    ("TFLite fused op", TFLITE_FUSED),
    ("quantized TFLite", TFLITE_QUANTIZED),
)


def capability_table():
    """A markdown table: for each option that some consumer refuses, who takes it
    away from its default (the README shows this; a test keeps the two equal)."""
    rows = ["| option on | " + " | ".join(heading for heading, _ in _TABLE_COLUMNS) + " |"]
    rows.append("|---" * (len(_TABLE_COLUMNS) + 1) + "|")
    for option in OPTIONS:
        if option.taken_by == EVERYONE:
            continue
        if option.default is True:
            shown = f"`{option.name}=False`"
        else:
            shown = f"`{option.name}`" if option.variant else f"other `{option.name}`"
        cells = ["yes" if consumer in option.taken_by else "no" for _, consumer in _TABLE_COLUMNS]
        rows.append(f"| {shown} | " + " | ".join(cells) + " |")
    return "\n".join(rows)

"""The implementations that run an `LSTM` over a sequence, and which one runs.

Every path computes the function of the reference loop
(`recurrence.lstm_sequence`, in keras.ops) and has its contract. A path says
whether it takes a layer (`refuses_layer`: its options, from the table in
`variants.py`, and its dtype) and a particular call (`refuses_call`: the
mask, training-time recurrent dropout, the device); `run` takes the first
path of the backend that does not refuse. `tests/test_paths.py` compares
each with the reference, outputs and gradients.

`use_cudnn` (keras.layers.LSTM's argument): "auto" takes the fastest path
that computes the same function; True asks for the backend's fused kernel
(cuDNN on a GPU; on a CPU only torch has one, oneDNN's) and raises a
`ValueError` saying why when it cannot run; False takes the reference loop.
"""

import dataclasses

import keras

from keras_lstm import variants
from keras_lstm.recurrence import lstm_sequence


@dataclasses.dataclass
class Call:
    """What one call brings besides the sequences and the initial state."""

    mask: object = None
    input_dropout_mask: object = None
    recurrent_dropout_mask: object = None
    zoneout_cell_keep: object = None
    zoneout_hidden_keep: object = None


class Path:
    """A way to compute the LSTM over a sequence."""

    name = None
    fused = False  # a fused kernel: what use_cudnn=True asks for

    def refuses_layer(self, layer):
        """Why this path cannot compute `layer` at all (None if it can)."""
        return None

    def refuses_call(self, layer, call):
        """Why this path cannot run this call (None if it can)."""
        return None

    def ran(self, layer, call):
        """The name of what runs (`layer.last_path`)."""
        return self.name

    def run(self, layer, sequences, initial_state, call):
        """(last_output, outputs, [h, c]), as `recurrence.lstm_sequence`."""
        raise NotImplementedError


class Reference(Path):
    """All input projections in one product, then `keras.ops.scan`: the definition."""

    name = "scan"
    project_inputs_first = True

    def scan(self):
        return keras.ops.scan

    def run(self, layer, sequences, initial_state, call):
        return lstm_sequence(
            layer.cell,
            sequences,
            initial_state,
            mask=call.mask,
            go_backwards=layer.go_backwards,
            unroll=layer.unroll,
            zero_output_for_mask=layer.zero_output_for_mask,
            input_dropout_mask=call.input_dropout_mask,
            recurrent_dropout_mask=call.recurrent_dropout_mask,
            project_inputs_first=self.project_inputs_first,
            scan=self.scan(),
            zoneout_cell_keep=call.zoneout_cell_keep,
            zoneout_hidden_keep=call.zoneout_hidden_keep,
        )


class Unrolled(Reference):
    """The reference step in a Python loop over the (fixed) time steps."""

    name = "unrolled"


class ScanStepProjection(Reference):
    """JAX: `lax.scan` with x_t W inside each step (on XLA CPU 12.7 ms
    against 23 ms for projecting all steps first)."""

    name = "scan_step_projection"
    project_inputs_first = False


class TfWhile(Reference):
    """TensorFlow: the per-step projection in a plain `tf.while_loop` (15 ms
    against 20 ms for keras.ops.scan)."""

    name = "tf_while"
    project_inputs_first = False

    def scan(self):
        from keras_lstm.tf_scan import scan

        return scan


class FusedKernel(Path):
    """A backend's fused LSTM kernel: the options it takes are the table's."""

    fused = True
    consumer = None  # its name in variants.py

    def refuses_layer(self, layer):
        # The answer depends only on the layer's configuration: asked once per
        # dtype (13 us a call on torch, 3% of a small layer's call).
        cache = layer.__dict__.setdefault("_path_refusals", {})
        key = (self.name, layer.compute_dtype)
        if key not in cache:
            cache[key] = self._refuses_layer(layer)
        return cache[key]

    def _refuses_layer(self, layer):
        problems = variants.refusals(layer.cell, self.consumer)
        if layer.compute_dtype != "float32":
            problems.append(f"dtype {layer.compute_dtype!r} (it runs float32)")
        if layer.unroll:
            problems.append("unroll=True")
        return f"{self.name} cannot take {', '.join(problems)}" if problems else None

    def refuses_call(self, layer, call):
        if call.recurrent_dropout_mask is not None:
            return f"{self.name} has no recurrent dropout (recurrent_dropout={layer.cell.recurrent_dropout} in training)"
        if not self.available():
            return f"{self.name} needs a GPU, and {keras.backend.backend()} sees none"
        if call.mask is not None:
            return self.refuses_mask(call.mask)
        return None

    def available(self):
        return True

    def refuses_mask(self, mask):
        return None


class TorchFused(FusedKernel):
    """torch's fused kernel (oneDNN on CPU, cuDNN on CUDA); a right-padded mask
    goes in as packed sequences."""

    name = "torch_fused"
    consumer = variants.TORCH_FUSED

    def refuses_mask(self, mask):
        import torch

        from keras_lstm.torch_fused import right_padded

        if torch.jit.is_tracing():
            # The mask's pattern would be read as a Python bool: the trace
            # would keep this one answer for every input.
            return "torch_fused cannot check a mask's padding while torch traces"
        if not right_padded(mask):
            return "torch_fused takes only right-padded masks (ones, then zeros)"
        return None

    def run(self, layer, sequences, initial_state, call):
        from keras_lstm.torch_fused import fused_lstm_sequence

        return fused_lstm_sequence(
            layer.cell,
            sequences,
            initial_state,
            mask=call.mask,
            go_backwards=layer.go_backwards,
            zero_output_for_mask=layer.zero_output_for_mask,
            input_dropout_mask=call.input_dropout_mask,
        )


class JaxCudnn(FusedKernel):
    """cuDNN through `jax.experimental.rnn`. A traced mask is checked on the
    device (`lax.cond`): right-padded ones run cuDNN, others the scan."""

    name = "jax_cudnn"
    consumer = variants.JAX_CUDNN

    def available(self):
        from keras_lstm import jax_cudnn

        return jax_cudnn.gpu_available()

    def refuses_mask(self, mask):
        from keras_lstm import jax_cudnn

        if not jax_cudnn.maybe_right_padded(mask):
            return "jax_cudnn takes only right-padded masks (ones, then zeros)"
        return None

    def ran(self, layer, call):
        import jax

        if isinstance(call.mask, jax.core.Tracer):
            return "jax_cudnn or scan_step_projection (the traced mask decides on the device)"
        return self.name

    def run(self, layer, sequences, initial_state, call):
        from keras_lstm.jax_cudnn import cudnn_lstm_sequence

        return cudnn_lstm_sequence(
            layer.cell,
            sequences,
            initial_state,
            mask=call.mask,
            go_backwards=layer.go_backwards,
            zero_output_for_mask=layer.zero_output_for_mask,
            input_dropout_mask=call.input_dropout_mask,
        )


class TfCudnn(FusedKernel):
    """cuDNN through Keras's own TensorFlow backend function (the one
    keras.layers.LSTM calls), without masks."""

    name = "tf_cudnn"
    consumer = variants.TF_CUDNN

    def available(self):
        from keras_lstm import tf_cudnn

        return tf_cudnn.gpu_available()

    def refuses_mask(self, mask):
        # Keras's cuDNN function asserts right padding inside the graph, where
        # another mask would fail at run time instead of taking the loop.
        return "tf_cudnn takes no mask"

    def run(self, layer, sequences, initial_state, call):
        from keras_lstm.tf_cudnn import cudnn_lstm_sequence

        return cudnn_lstm_sequence(
            layer.cell,
            sequences,
            initial_state,
            go_backwards=layer.go_backwards,
            input_dropout_mask=call.input_dropout_mask,
        )


REFERENCE = Reference()
UNROLLED = Unrolled()
# Each backend's paths, fastest first; the last takes every layer and call.
BACKEND_PATHS = {
    "torch": (TorchFused(), REFERENCE),
    "jax": (JaxCudnn(), ScanStepProjection()),
    "tensorflow": (TfCudnn(), TfWhile()),
}


def fused_path(backend=None):
    """The fused kernel of `backend` (default: Keras's)."""
    return BACKEND_PATHS[backend or keras.backend.backend()][0]


def check_use_cudnn(layer):
    """At construction: use_cudnn=True on a layer no fused kernel can take
    raises, naming why."""
    if layer.use_cudnn is True:
        reason = fused_path().refuses_layer(layer)
        if reason:
            raise ValueError(f"use_cudnn=True, but {reason}. Pass use_cudnn='auto' to run it on a loop.")


def run(layer, sequences, initial_state, call):
    """Runs this call of `layer` on the first path of its backend that takes
    it (see the module docstring); returns (the name of what ran, result).

    A path may also raise NotImplementedError when it finds out only while
    running that it cannot (as Keras's backend functions do); the next one
    then runs.
    """
    for path in candidates(layer):
        reason = path.refuses_layer(layer) or path.refuses_call(layer, call)
        if reason is None:
            try:
                return path.ran(layer, call), path.run(layer, sequences, initial_state, call)
            except NotImplementedError as error:
                reason = f"{path.name} raised NotImplementedError {error}".strip()
        if path.fused and layer.use_cudnn is True:
            raise ValueError(f"use_cudnn=True, but {reason}. Pass use_cudnn='auto' to fall back to a loop.")
    raise AssertionError("the last path of each backend takes every call")


def candidates(layer):
    """The paths that may run `layer`, in the order tried."""
    if layer.unroll:
        return (UNROLLED,)
    if layer.use_cudnn is False:
        return (REFERENCE,)
    return BACKEND_PATHS[keras.backend.backend()]

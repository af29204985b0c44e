"""Right-padded batches for the fused kernels, in keras.ops.

The fused kernels take a right-padded batch as sequence lengths and run each
sequence forward to its own end. Keras's `go_backwards` with a mask flips the
whole padded sequence instead: the padding comes first, carries the initial
state through and outputs zeros, then the real steps run last to first. The
two helpers turn one into the other.
"""

from keras import ops


def reverse_within_lengths(sequences, lengths):
    """(batch, time, ...) with each row's first `lengths[b]` steps reversed;
    the steps after them (padding) are left unspecified."""
    steps = ops.arange(ops.shape(sequences)[1], dtype="int32")
    index = ops.maximum(ops.expand_dims(lengths, 1) - 1 - steps[None, :], 0)
    return _take_steps(sequences, index)


def backward_outputs(outputs, lengths):
    """Outputs of a forward run over `reverse_within_lengths` inputs, placed as
    Keras's `go_backwards` gives them: zeros for the padding, then the outputs."""
    time = ops.shape(outputs)[1]
    steps = ops.arange(time, dtype="int32")[None, :]
    padding = time - ops.expand_dims(lengths, 1)
    moved = _take_steps(outputs, ops.maximum(steps - padding, 0))
    return ops.where(ops.expand_dims(steps >= padding, -1), moved, ops.zeros_like(moved))


def _take_steps(sequences, index):
    index = ops.broadcast_to(ops.expand_dims(index, -1), ops.shape(sequences))
    return ops.take_along_axis(sequences, index, axis=1)

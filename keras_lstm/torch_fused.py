"""The torch fast path: torch's fused LSTM kernel (CPU, and cuDNN on CUDA).

Keras's gate order (i, f, c, o) is torch's (i, f, g, o), so the Keras weights
go in transposed, with no reordering; torch's second bias is zero.
"""

import torch
from keras import ops

from keras_lstm import padding
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def right_padded(mask):
    """Whether each row of `mask` is ones then zeros, with at least one step.

    Such masks (post-padded batches, as `Embedding(mask_zero=True)` gives)
    map onto torch's packed sequences; any other mask takes the scan.
    """
    mask = ops.convert_to_tensor(mask).bool()
    lengths = mask.sum(dim=1)
    steps = torch.arange(mask.shape[1], device=mask.device)
    return bool(lengths.min() > 0) and torch.equal(mask, steps[None, :] < lengths[:, None])


def fused_lstm_sequence(
    cell,
    sequences,
    initial_state,
    mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
    input_dropout_mask=None,
):
    """Same contract as `recurrence.lstm_sequence`.

    Takes the plain LSTM or one with proj_units, no recurrent dropout, and a
    mask only if `right_padded`.
    """
    x = ops.convert_to_tensor(sequences)
    if input_dropout_mask is not None:
        x = x * ops.convert_to_tensor(input_dropout_mask)[:, None, :]
    if go_backwards and mask is None:
        x = torch.flip(x, dims=(1,))
    h0, c0 = (ops.convert_to_tensor(state)[None] for state in initial_state)
    weights = [
        ops.convert_to_tensor(cell.kernel).T,
        ops.convert_to_tensor(cell.recurrent_kernel).T,
    ]
    if cell.use_bias:
        bias = ops.convert_to_tensor(cell.bias)
        weights += [bias, torch.zeros_like(bias)]
    if cell.proj_units:  # torch's weight_hr: h = W_hr (o * tanh(c))
        weights.append(ops.convert_to_tensor(cell.projection_kernel).T)
    if x.is_cuda:
        # cuDNN wants each weight contiguous. On CPU the transposed views go
        # straight to BLAS; copying them cost ~70 us a call (measured).
        weights = [w.contiguous() for w in weights]
    # cuDNN keeps what its backward pass needs only in training mode (it
    # refuses a backward pass otherwise); dropout is 0 either way.
    train = torch.is_grad_enabled()
    if mask is None:
        # torch.nn.LSTM's own entry point: (input, hx, params, has_biases,
        # num_layers, dropout, train, bidirectional, batch_first).
        outputs, h, c = torch._VF.lstm(
            x, (h0, c0), weights, cell.use_bias, 1, 0.0, train, False, True
        )
        return outputs[:, -1], outputs, [h[0], c[0]]

    mask = ops.convert_to_tensor(mask).bool()
    lengths = mask.sum(dim=1)
    if go_backwards:
        x = padding.reverse_within_lengths(x, lengths.int())
    packed = pack_padded_sequence(
        x, lengths.cpu(), batch_first=True, enforce_sorted=False
    )
    order, restore = packed.sorted_indices, packed.unsorted_indices
    # The packed entry point: (data, batch_sizes, hx, params, has_biases,
    # num_layers, dropout, train, bidirectional); states in sorted order.
    data, h, c = torch._VF.lstm(
        packed.data,
        packed.batch_sizes,
        (h0[:, order], c0[:, order]),
        weights,
        cell.use_bias,
        1,
        0.0,
        train,
        False,
    )
    h, c = h[0, restore], c[0, restore]
    outputs, _ = pad_packed_sequence(
        packed._replace(data=data), batch_first=True, total_length=x.shape[1]
    )
    if go_backwards:
        return h, padding.backward_outputs(outputs, lengths.int()), [h, c]
    # Keras semantics: a padded step repeats the last output (or gives zeros).
    fill = torch.zeros_like(h) if zero_output_for_mask else h
    outputs = torch.where(mask[:, :, None], outputs, fill[:, None, :])
    return h, outputs, [h, c]

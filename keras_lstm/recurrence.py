"""The sequence loop: an `LSTMCell`'s update applied over every time step.

This is the reference implementation, in backend-agnostic `keras.ops`; any
faster per-backend path must compute the same function. The TFLite exporter
runs this same loop in TensorFlow ops for what the fused op does not take
(`F` and `scan` below).
"""

from keras import ops

from keras_lstm import gates


def lstm_sequence(
    cell,
    sequences,
    initial_state,
    mask=None,
    go_backwards=False,
    unroll=False,
    zero_output_for_mask=False,
    input_dropout_mask=None,
    recurrent_dropout_mask=None,
    project_inputs_first=True,
    scan=ops.scan,
    zoneout_cell_keep=None,
    zoneout_hidden_keep=None,
    params=None,
    F=gates.KERAS,
):
    """Runs the LSTM defined by `cell`'s weights over a whole sequence.

    Args:
        cell: a built `keras_lstm.LSTMCell` (its weights and activations).
        sequences: (batch, time, features).
        initial_state: [h0, c0], each (batch, units).
        mask: optional (batch, time) booleans; a masked step carries h and c
            through unchanged and outputs the previous output (or zeros with
            `zero_output_for_mask`), as `keras.layers.RNN` does.
        go_backwards: process the sequence in reverse; outputs come in the
            order processed, as in Keras.
        unroll: a Python loop over the (static) time axis instead of a scan.
        input_dropout_mask: optional (batch, features) mask, the same for
            every step (variational dropout).
        recurrent_dropout_mask: optional (batch, units) mask on h, the same
            for every step.
        project_inputs_first: compute x_t W + b for all steps in one product
            before the loop (the textbook structure), or inside each step.
            The same function; which is faster depends on the backend (on
            XLA CPU the per-step product measured faster).
        scan: the loop, any function with `keras.ops.scan`'s contract.
        zoneout_cell_keep, zoneout_hidden_keep: None, a rate (inference: the
            expectation), or per-step masks (time, batch, size) in training.
        params: the cell's `gates.read_params` (default: read from `cell`).
        F: the operations (`gates.KERAS`; the TFLite exporter passes
            TensorFlow's, with `tf_scan.scan`).

    Returns:
        (last_output, outputs, [h, c]) with outputs (batch, time, units).
    """
    # A torch CPU tensor given to a model on the GPU moves to Keras's device
    # here (a plain `*` below would refuse to mix devices).
    sequences = F.convert_to_tensor(sequences)
    if input_dropout_mask is not None:
        sequences = sequences * F.expand_dims(input_dropout_mask, 1)
    # Read each weight once, outside the loop: a variable read inside a
    # TensorFlow while loop is one more op per step, and XLA cannot compile
    # its gradient.
    p = cell.step_params() if params is None else params

    def project(x):
        return gates.project_input(p, x, F)

    # The input half of the gate pre-activations does not depend on the
    # state, so it can be computed for every step in one matrix product.
    if project_inputs_first:
        sequences = project(sequences)
    step_inputs = {"z": F.transpose(sequences, (1, 0, 2))}
    if mask is not None:
        time_mask = F.expand_dims(F.transpose(F.cast(mask, "bool"), (1, 0)), -1)
        step_inputs["mask"] = time_mask
    if go_backwards:
        step_inputs = {k: F.flip(x, axis=0) for k, x in step_inputs.items()}
    # Zoneout masks are drawn for every step up front, so the loop stays a
    # pure function of its inputs (needed by jax.lax.scan).
    for name, keep in (("keep_c", zoneout_cell_keep), ("keep_h", zoneout_hidden_keep)):
        if keep is not None and not isinstance(keep, float):
            step_inputs[name] = keep

    def step(carry, inputs):
        h_prev, c_prev = carry[0], carry[1]
        h, c = gates.step(
            p,
            inputs["z"] if project_inputs_first else project(inputs["z"]),
            h_prev,
            c_prev,
            F,
            recurrent_dropout_mask=recurrent_dropout_mask,
            keep_c=inputs.get("keep_c", zoneout_cell_keep),
            keep_h=inputs.get("keep_h", zoneout_hidden_keep),
        )
        if mask is None:
            return (h, c), (h, c)
        step_mask, output_prev = inputs["mask"], carry[2]
        h = F.where(step_mask, h, h_prev)
        c = F.where(step_mask, c, c_prev)
        # Keras's RNN: a masked step repeats the previous output, which
        # starts at zeros (not at h0).
        output_fill = F.zeros_like(h) if zero_output_for_mask else output_prev
        output = F.where(step_mask, h, output_fill)
        # keras.ops.scan on TensorFlow needs per-step outputs shaped like the
        # carry, so the carry is also what each step emits.
        return (h, c, output), (h, c, output)

    h0, c0 = initial_state
    if mask is None:
        carry, output_index = (h0, c0), 0
    else:
        carry, output_index = (h0, c0, F.zeros_like(h0)), 2
    if unroll:
        per_step = []
        for t in range(sequences.shape[1]):
            carry, emitted = step(carry, {k: x[t] for k, x in step_inputs.items()})
            per_step.append(emitted[output_index])
        outputs = F.stack(per_step, axis=0)
    else:
        carry, emitted = scan(step, carry, step_inputs)
        outputs = emitted[output_index]
    outputs = F.transpose(outputs, (1, 0, 2))
    h, c = carry[0], carry[1]
    last_output = carry[output_index]
    return last_output, outputs, [h, c]

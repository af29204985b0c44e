"""What every zoo recipe shares: seeding, resuming, data parallelism, timing.

A recipe is deterministic for a seed on one backend (`keras.utils.set_random_seed`
seeds Python, NumPy and the backend), shows Keras's progress bars, and resumes
after an interruption from the checkpoint `keras.callbacks.BackupAndRestore`
keeps at each epoch's end (rerun the same command; the folder is deleted once
training finishes).
"""

import contextlib
import tempfile
import time
from pathlib import Path

import keras
import numpy as np


def default_checkpoint_dir(name):
    return Path(tempfile.gettempdir()) / f"keras-lstm-zoo-{name}-checkpoint"


def data_parallel():
    """Keras's DataParallel over every local device: the batch is split, the weights replicated.

    Keras 3.15's distribution API runs on the JAX backend only. On CPU,
    `XLA_FLAGS=--xla_force_host_platform_device_count=N` makes N devices.
    """
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"data_parallel uses keras.distribution, which runs on the JAX backend; "
            f"KERAS_BACKEND is {backend!r}: set KERAS_BACKEND=jax"
        )
    devices = keras.distribution.list_devices()
    return keras.distribution.DataParallel(devices=devices)


def distribution_scope(distribution):
    """The scope to build and train in: the distribution's, or none."""
    return distribution.scope() if distribution is not None else contextlib.nullcontext()


def device_count(distribution):
    return 1 if distribution is None else len(distribution.device_mesh.devices.flatten())


def divisible(arrays, distribution):
    """Drops the oldest examples so the last batch splits evenly over the devices too."""
    extra = len(arrays[0]) % device_count(distribution)
    return [array[extra:] for array in arrays]


def check_batch_size(batch_size, distribution):
    if distribution is None:
        return
    devices = device_count(distribution)
    if batch_size % devices:
        raise ValueError(
            f"batch_size={batch_size} does not split over {devices} devices: "
            f"use a multiple of {devices}"
        )


def fit(model, x, y, *, checkpoint_dir, callbacks=(), **kwargs):
    """`model.fit` with BackupAndRestore at `checkpoint_dir`; returns (history, seconds)."""
    checkpoint_dir = Path(checkpoint_dir)
    if (checkpoint_dir / "training_metadata.json").exists():
        print(f"resuming from the checkpoint in {checkpoint_dir}")
    backup = keras.callbacks.BackupAndRestore(str(checkpoint_dir), delete_checkpoint=True)
    start = time.perf_counter()
    history = model.fit(x, y, callbacks=[backup, *callbacks], **kwargs)
    return history, time.perf_counter() - start


def fit_data(batches, shuffle=True, shapes=None):
    """What `fit` takes for `batches`, a keras.utils.PyDataset of variable-length batches.

    On TensorFlow, Keras fixes a PyDataset's shapes from its first two batches, so a length
    those share becomes fixed and a later batch of another length fails. There the batches
    go in as a tf.data.Dataset whose every axis is free (dtypes and structure from the
    first batch), in a new order each epoch when `shuffle` (Python's `random`, as Keras
    shuffles; pass fit(shuffle=False) then), with `on_epoch_end` called after each pass as
    Keras calls it on a PyDataset. Other backends take the PyDataset as it is.

    `shapes`, for batches that are tuples of arrays: each array's shape with None on the
    axes that vary, where a layer needs the others known (a LayerNormalization over
    features: TensorFlow cannot build one over an axis of unknown size).
    """
    if keras.backend.backend() != "tensorflow":
        return batches
    import random

    import tensorflow as tf

    def generate():
        order = list(range(len(batches)))
        if shuffle:
            random.shuffle(order)
        for index in order:
            yield batches[index]
        batches.on_epoch_end()

    first = batches[0]
    spec = lambda array, shape: tf.TensorSpec(shape, tf.as_dtype(np.asarray(array).dtype))  # noqa: E731
    if shapes is None:
        signature = tf.nest.map_structure(lambda array: spec(array, (None,) * np.ndim(array)), first)
    else:
        signature = tuple(spec(array, shape) for array, shape in zip(first, shapes, strict=True))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))


def length_batches(lengths, batch_size):
    """Indices grouped into batches of similar length (less padding), in a fixed order."""
    order = np.argsort(lengths, kind="stable")
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


def shuffled(batches, seed):
    """The batches in a fixed random order. Which examples share a batch stays fixed;
    `fit` (shuffle=True) still draws the batches in a new order each epoch, from
    Python's `random`, which `keras.utils.set_random_seed` seeds."""
    return [batches[k] for k in np.random.default_rng(seed).permutation(len(batches))]


def round_up(length, multiple):
    """`length` rounded up to a multiple of `multiple`, at least one `multiple`: array
    sizes from few values, so that JAX and TF compile few shapes."""
    return max(multiple, -(-length // multiple) * multiple)


def pad(sequences, multiple, dtype):
    """(batch, length) array of `sequences` padded with zeros at the end, the
    length rounded up to a multiple of `multiple` (`round_up`)."""
    width = round_up(max(len(s) for s in sequences), multiple)
    batch = np.zeros((len(sequences), width), dtype)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = sequence
    return batch


def grouped_split(items, keys, test_size, dev_size, seed):
    """(train, dev, test) lists of `items`, fixed by `seed`: items that share any of
    their `keys(item)` stay in one split (so, e.g., no sentence is in two)."""
    parent = list(range(len(items)))

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    first = {}
    for index, item in enumerate(items):
        for key in keys(item):
            if key in first:
                parent[root(index)] = root(first[key])
            else:
                first[key] = index
    groups = {}
    for index in range(len(items)):
        groups.setdefault(root(index), []).append(index)
    order = [groups[key] for key in sorted(groups)]
    order = [order[k] for k in np.random.default_rng(seed).permutation(len(order))]
    splits, sizes, current = ([], [], []), (test_size, dev_size), 0
    for group in order:
        while current < 2 and len(splits[current]) + len(group) > sizes[current]:
            current += 1
        splits[current].extend(items[k] for k in group)
    test, dev, train = splits
    return train, dev, test

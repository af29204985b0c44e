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

#!/usr/bin/env bash
# The GPU checks, as run on a lent GPU machine (see README, "On a GPU"):
# the fast-path parity tests on the GPU, then the speed benchmark there.
# Usage: bash benchmarks/gpu.sh OUT_DIR   (TensorFlow is left out by default,
# as the lent machines have had no TensorFlow GPU build; where it has one,
# BACKENDS=torch,jax,tensorflow also checks the tf_cudnn path.)
set -uo pipefail
out=${1:?output folder}
backends=${BACKENDS:-torch,jax}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
nvidia-smi -L
KERAS_BACKEND=jax python3 -c "import keras, jax, torch; print('keras', keras.__version__, 'jax', jax.__version__, jax.devices(), 'torch', torch.__version__, torch.cuda.get_device_name())"
status=0
for backend in ${backends//,/ }; do
  echo "=== parity tests on the GPU: $backend ==="
  KERAS_BACKEND=$backend KERAS_HOME=$(mktemp -d) timeout 200 python3 -m pytest -q \
    tests/test_paths.py 2>&1 | tee "$out/tests-$backend.log" | tail -15 || status=1
done
echo "=== benchmark ==="
timeout 280 python3 -m benchmarks.lstm --backends "$backends" --repeats "${REPEATS:-15}" --out "$out" || status=1
exit $status

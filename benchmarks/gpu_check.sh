#!/usr/bin/env bash
# The GPU checks in one run on a CUDA machine: the kernel tests on the compiled kernels and the engine on
# CUDA against transformers (tests/inference/test_model.py), the kernel
# benchmark, and the engine and context benchmarks with the Triton kernels. Each step has its own time
# limit, so a slow or failing step leaves the others their time; each writes its log to $OUT (default
# /tmp/gpu-check) and the end of it to stdout.
#
#   bash benchmarks/gpu_check.sh                # every step
#   STEPS="tests bench" bash benchmarks/gpu_check.sh
#   PEAK_GBPS=4800 bash benchmarks/gpu_check.sh # the card's HBM bandwidth, for the decode table's % column
#   BENCH_ARGS= CONTEXT_SIZES=4096,131072 TESTS=tests/kernels/test_rope.py ENGINE_ARGS="--concurrency 1,32" ...
#                                               # the full kernel sweep, other sizes, a subset of the tests
set -u
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
py=${PYTHON:-python3}
steps=${STEPS:-"tests bench context engine"}
peak=${PEAK_GBPS:-3350}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}

step() {
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  echo "== $name: rc $rc in $(($(date +%s) - start)) s (limit $limit s)"
  tail -n "${TAIL:-40}" "$out/$name.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
$py -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"

# The tests step spreads over WORKERS processes with pytest-xdist (a dev dependency); without it, one process.
parallel=()
if $py -c "import xdist" 2>/dev/null; then parallel=(-n "${WORKERS:-8}"); else echo "pytest-xdist is not installed: the tests run in one process"; fi

for s in $steps; do
  case $s in
    tests) step tests "${TESTS_LIMIT:-170}" $py -m pytest -q -p no:cacheprovider "${parallel[@]}" --timeout 150 ${TESTS:-tests/kernels tests/inference/test_model.py} ;;
    bench) step bench "${BENCH_LIMIT:-150}" $py -m kernels.bench ${BENCH_ARGS---quick} --peak-gbps "$peak" ;;
    context) step context "${CONTEXT_LIMIT:-90}" $py -m benchmarks.context --sizes "${CONTEXT_SIZES:-4096,16384,65536}" --device cuda ;;
    engine) step engine "${ENGINE_LIMIT:-60}" $py -m benchmarks.engine --device cuda ${ENGINE_ARGS:-} ;;
    *) echo "unknown step $s" ;;
  esac
done

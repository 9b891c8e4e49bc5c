#!/usr/bin/env bash
# tools/cuda/run-on-gpu.sh — run mednext's CUDA checks and the GPU benchmark on a GPU machine that has the
# NVIDIA driver, PyTorch (pip, CUDA 13 wheels: libcudart/libcublas/libcublasLt/libcurand) and Python, but no
# Rust toolchain and no network. Builds nothing: it uses the binaries tools/cuda/build.sh left in .cuda/ship/.
#
# One command, ≈ 4–8 min:
#   1. unpack .cuda/ship/*.xz into .cuda/bin/, find the CUDA 13 runtime libraries (PyTorch's nvidia/cu13/lib)
#      and the driver's libcuda.so.1, print `nvidia-smi -L` and `ldd`;
#   2. ops_cuda: every custom op on CUDA vs the CPU (forward + all gradients, gate 1e-4) and the MedNeXt
#      fixture parity on CUDA (gate 1e-4);  parity: the CPU fixture parity (sanity of the same binary);
#   3. benches/compare_mednext_gpu.py: MedNeXt-M k5 forward 1×3×128³ and training step 2×3×128³, candle vs
#      PyTorch fp32 and AMP, ratios and peak GPU memory.
# Results go to stdout and, when $OUT is set (the device tool's output folder), to $OUT/gpu-run.log and
# $OUT/gpu_bench.json. Exit status: 0 when both test binaries passed (the benchmark is informational).
#
# Device tool call (from the repository root here; carry the shipped binaries):
#   run(command="bash tools/cuda/run-on-gpu.sh", carry=[".cuda/ship"], timeout_s=560)
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHIP=${CUDA_SHIP:-$REPO/.cuda/ship}
BIN=$REPO/.cuda/bin
OUTDIR=${OUT:-$REPO/.cuda/out}
mkdir -p "$BIN" "$OUTDIR"
exec > >(tee "$OUTDIR/gpu-run.log") 2>&1
t0=$(date +%s)
say() { printf '\n=== [%4ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

say "unpack"
for f in "$SHIP"/*.xz; do
  n=$(basename "$f" .xz)
  xz -dc "$f" > "$BIN/$n" && chmod +x "$BIN/$n"
done
ls -l "$BIN"

# CUDA 13 runtime libraries: PyTorch's pip wheels, else anywhere on the machine; the driver's libcuda.so.1
PY=$(command -v python3 || command -v python)
L=$("$PY" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null)
if [ ! -e "$L/libcublas.so.13" ]; then
  L=$(dirname "$(find / \( -path /proc -o -path /sys \) -prune -o -name 'libcublas.so.13*' -print 2>/dev/null | head -1)")
fi
C=$(find /usr/local/nvidia /usr/lib* /usr/local/cuda* -name 'libcuda.so.1' 2>/dev/null | head -1)
C=${C:+$(dirname "$C")}
LIBS=$L
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10; do
  if [ ! -e "$L/$lib" ]; then  # e.g. a PyTorch install without nvidia-curand: look elsewhere
    f=$(find / \( -path /proc -o -path /sys \) -prune -o -name "$lib*" -print 2>/dev/null | head -1)
    [ -n "$f" ] && LIBS=$LIBS:$(dirname "$f")
  fi
done
export LD_LIBRARY_PATH=$LIBS${C:+:$C}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
say "libraries: runtime $L, driver ${C:-<loader default>}"
nvidia-smi -L || true
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
ldd "$BIN/ops_cuda" | grep -E 'libcu|not found'

# The test binaries read tests/data through the CARGO_MANIFEST_DIR of the build machine.
MD=$(cat "$SHIP/manifest_dir" 2>/dev/null || echo /work/main/crates/mednext)
BUILT_ROOT=$(dirname "$(dirname "$MD")")
if [ ! -e "$MD/tests/data" ] && [ ! -e "$BUILT_ROOT" ]; then
  mkdir -p "$(dirname "$BUILT_ROOT")" && ln -s "$REPO" "$BUILT_ROOT"
  echo "linked $BUILT_ROOT -> $REPO (test data path)"
fi

say "ops_cuda (CUDA vs CPU for every op, forward + backward; fixture parity on CUDA)"
MEDNEXT_REQUIRE_CUDA=1 timeout 180 "$BIN/ops_cuda" --nocapture --test-threads 1
rc_ops=$?
say "ops_cuda exit $rc_ops"

say "parity (CPU fixture parity, same build)"
timeout 90 "$BIN/parity" --nocapture --test-threads 2
rc_par=$?
say "parity exit $rc_par"

say "benchmark (remaining budget $(( 470 - ($(date +%s) - t0) )) s)"
left=$(( 470 - ($(date +%s) - t0) ))
if [ "$left" -gt 60 ]; then
  per=$(( left / 7 ))
  [ "$per" -gt 150 ] && per=150
  timeout "$left" "$PY" "$REPO/benches/compare_mednext_gpu.py" --rust-bin "$BIN/mednext_bench_gpu" \
    --repeats 5 --warmup 2 --timeout "$per" --out "$OUTDIR/gpu_bench.json"
  say "benchmark exit $?"
else
  say "benchmark skipped: not enough time left"
fi

say "summary: ops_cuda $rc_ops, parity $rc_par"
[ "$rc_ops" = 0 ] && [ "$rc_par" = 0 ]

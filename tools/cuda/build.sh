#!/usr/bin/env bash
# tools/cuda/build.sh — build mednext's CUDA test and benchmark binaries on a CPU-only machine (no GPU, no
# CUDA toolkit), ready to be carried to a GPU machine and run there by tools/cuda/run-on-gpu.sh.
#
# Recipe (after /work/shared/tools/cuda-build.{md,sh}, a tested procedure for candle 0.11 + `cuda`):
#   1. a venv with the pinned CUDA 13.0 compiler/runtime wheels from PyPI (nvcc 13.0.88: driver 580 = CUDA
#      13.0 accepts its PTX ISA 9.0; nvcc ≥ 13.1 writes PTX the driver refuses);
#   2. a "fake" CUDA root: bin/include/nvvm symlinked into the wheels' nvidia/cu13 prefix, lib64 with the
#      unversioned .so names, lib64/stubs/libcuda.so = a generated link-time stub (SONAME libcuda.so.1)
#      exporting every cu* symbol of cudarc's driver bindings (candle-core 0.11 forces cudarc's
#      `dynamic-linking`, so -lcuda is needed at link time; the GPU machine's driver provides the real one);
#   3. cargo with CUDA_COMPUTE_CAP=90 (H100/H200, sm_90a for candle's own kernels) in a separate target dir;
#   4. the test/bench executables copied, stripped and xz-compressed into .cuda/ship/, checked here
#      (0 undefined symbols against the wheel libraries + the stub; the CPU paths run).
#
# Usage: tools/cuda/build.sh            (idempotent; first run ≈ 25–30 min on 2 cores, then seconds)
# Knobs: CUDA_BUILD_DIR (toolchain; default .cuda/toolchain), CARGO_TARGET_DIR (default .cuda/target),
#        CUDA_COMPUTE_CAP (default 90), PYTHON (python3.11 or python3), JOBS (cargo -j, default 2).
# Output: .cuda/ship/{ops_cuda,parity,mednext_bench_gpu}.xz + manifest.txt (≤ 60 MB in all).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${CUDA_BUILD_DIR:-$REPO/.cuda/toolchain}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/.cuda/target}
SHIP=$REPO/.cuda/ship
VENV=$TOOLS/venv
ROOT=$TOOLS/cuda
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
log() { printf '[cuda-build] %s\n' "$*" >&2; }

WHEELS=(
  nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.0.0.19 nvidia-cuda-nvrtc==13.0.48 nvidia-curand==10.4.0.35
)

# ---------------------------------------------------------------- 1. wheels
mkdir -p "$TOOLS" "$SHIP"
[ -x "$VENV/bin/python" ] || { log "creating venv $VENV"; "$PYTHON" -m venv "$VENV"; }
if [ "$(cat "$VENV/.cuda-wheels" 2>/dev/null)" != "${WHEELS[*]}" ]; then
  log "installing ${WHEELS[*]}"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "${WHEELS[@]}"
  echo "${WHEELS[*]}" > "$VENV/.cuda-wheels"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
CU=$SITE/nvidia/cu13
for f in bin/nvcc nvvm/bin/cicc include/cuda.h include/cccl/cuda/std/type_traits lib/libcudart.so.13 \
         lib/libcublas.so.13 lib/libcublasLt.so.13 lib/libcurand.so.10 lib/libnvrtc.so.13; do
  [ -e "$CU/$f" ] || { log "missing $CU/$f"; exit 1; }
done

# ---------------------------------------------------------------- 2. fake CUDA root + libcuda stub
mkdir -p "$ROOT/lib64/stubs"
for d in bin include nvvm; do ln -sfn "$CU/$d" "$ROOT/$d"; done
ln -sfn lib64 "$ROOT/lib"
for l in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13; do
  ln -sfn "$CU/lib/$l" "$ROOT/lib64/$l"
  ln -sfn "$CU/lib/$l" "$ROOT/lib64/${l%%.so.*}.so"
done
export CUDA_ROOT=$ROOT CUDA_HOME=$ROOT CUDA_PATH=$ROOT CUDA_TOOLKIT_ROOT_DIR=$ROOT
export NVCC=$ROOT/bin/nvcc PATH=$ROOT/bin:$PATH CUDARC_CUDA_VERSION=13000
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export LIBRARY_PATH=$ROOT/lib64:$ROOT/lib64/stubs${LIBRARY_PATH:+:$LIBRARY_PATH}
cd "$REPO"
CUDARC=$(cargo metadata --format-version 1 --manifest-path crates/mednext/Cargo.toml --features cuda \
  | "$VENV/bin/python" -c 'import json,sys,os
d=json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in d["packages"] if p["name"]=="cudarc"))')
STUB=$ROOT/lib64/stubs/libcuda.so
if [ ! -f "$STUB" ] || [ "$(cat "$STUB.from" 2>/dev/null)" != "$CUDARC" ]; then
  log "generating the libcuda link stub from $CUDARC/src/driver/sys/mod.rs"
  grep -oE '^\s+fn cu[A-Za-z0-9_]+\(' "$CUDARC/src/driver/sys/mod.rs" | sed -E 's/^\s+fn //; s/\($//' \
    | sort -u | awk '{ printf "int %s(void) { return 999; }\n", $1 }' > "$ROOT/lib64/stubs/libcuda_stub.c"
  gcc -shared -fPIC -O0 -Wl,-soname,libcuda.so.1 -o "$STUB" "$ROOT/lib64/stubs/libcuda_stub.c"
  echo "$CUDARC" > "$STUB.from"
fi

# ---------------------------------------------------------------- 3. build
log "nvcc: $("$NVCC" --version | grep release); CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP; target $CARGO_TARGET_DIR"
start=$(date +%s)
MSGS=$(mktemp)
trap 'rm -f "$MSGS"' EXIT
cargo test --release -j "${JOBS:-2}" -p mednext --features cuda --no-run \
  --test ops_cuda --test parity --message-format=json-render-diagnostics > "$MSGS"
cargo build --release -j "${JOBS:-2}" -p mednext --features cuda --example mednext_bench_gpu \
  --message-format=json-render-diagnostics >> "$MSGS"
log "cargo took $(( $(date +%s) - start )) s"

# ---------------------------------------------------------------- 4. ship: strip, check, compress
declare -A EXE
while IFS=$'\t' read -r name path; do EXE[$name]=$path; done < <("$VENV/bin/python" -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"] + "\t" + m["executable"])' "$MSGS")
BIN=$REPO/.cuda/bin
mkdir -p "$BIN" "$REPO/.cuda/smoke"
ln -sfn "$STUB" "$REPO/.cuda/smoke/libcuda.so.1"
LDP=$CU/lib:$REPO/.cuda/smoke
: > "$SHIP/manifest.txt"
for name in ops_cuda parity mednext_bench_gpu; do
  src=${EXE[$name]:-}
  [ -n "$src" ] && [ -x "$src" ] || { log "no executable for $name"; exit 1; }
  cp -f "$src" "$BIN/$name"
  strip "$BIN/$name"
  undef=$(LD_BIND_NOW=1 LD_LIBRARY_PATH=$LDP ldd -r "$BIN/$name" 2>&1 | grep -c undefined || true)
  [ "$undef" = 0 ] || { log "$name: $undef undefined symbols"; exit 1; }
  xz -T2 -9 -f -k -c "$BIN/$name" > "$SHIP/$name.xz"
  printf '%s\t%s\t%s\t%s\n' "$name" "$(stat -c %s "$BIN/$name")" "$(stat -c %s "$SHIP/$name.xz")" \
    "$(readelf -d "$BIN/$name" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')" >> "$SHIP/manifest.txt"
done
# where the test binaries look for tests/data (env!("CARGO_MANIFEST_DIR") is baked in at compile time)
echo "$REPO/crates/mednext" > "$SHIP/manifest_dir"

# CPU-path smoke checks with the stub driver: the CUDA tests must skip cleanly, the bench must run on the CPU.
LD_LIBRARY_PATH=$LDP "$BIN/ops_cuda" 2>&1 | grep -E "skipped|test result" | head -3 >&2
LD_LIBRARY_PATH=$LDP "$BIN/mednext_bench_gpu" --device cpu --mode infer --preset S --kernel 3 --size 16 \
  --repeats 1 --warmup 0 >&2

total=$(cat "$SHIP"/*.xz | wc -c)
log "artefacts (name, stripped bytes, xz bytes, NEEDED):"
column -t -s $'\t' "$SHIP/manifest.txt" >&2 || cat "$SHIP/manifest.txt" >&2
log "total shipped: $total bytes in $SHIP (carry: .cuda/ship)"
[ "$total" -le $((60 * 1024 * 1024)) ] || { log "over 60 MB"; exit 1; }

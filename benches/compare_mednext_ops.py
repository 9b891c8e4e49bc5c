"""Compare the `mednext::ops` kernels with PyTorch on the same shapes, on the same machine.

Ours: `cargo run --release -p mednext --example ops_timing RUNS` (built first, not timed), which prints
`<case> <best ms>` per case (in-process wall time, fastest of RUNS after a warm-up; fwd+bwd = forward +
`backward()` from a ones upstream gradient, incl. candle's gradient bookkeeping).
Reference: PyTorch (CPU, float32, `torch.set_num_threads(2)`, default NCDHW layout):
  * depthwise conv:  F.conv3d(x, w, b, stride, padding=k//2, groups=C)
  * transposed conv: F.conv_transpose3d(x, w, b, stride=2, padding=k//2, groups=C)
  * 1x1x1:           F.conv3d(x, w, b)   (w: (128, 32, 1, 1, 1))
  * GroupNorm:       F.group_norm(x, C, gamma, beta, 1e-5)
  * GELU:            F.gelu(x)            bias + GELU: F.gelu(x + b.view(1, C, 1, 1, 1))
fwd+bwd = forward + `y.backward(torch.ones_like(y))` with x and all parameters requiring grad.

PyTorch's depthwise conv3d backward on CPU is very slow (~65 s for (1,64,64³) k5 in `reference/rust-notes.md`
§3): those cases run once, and the (1,64,64³) one only with --all.

Usage (from the repository root):

    .venv/bin/python benches/compare_mednext_ops.py [--runs 5] [--all]
"""

import argparse
import os
import subprocess
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]


def data(*shape, scale=1.0):
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.int64)
    v = ((i * 2654435761) % 1000).float() / 500.0 - 1.0
    return (v * scale).reshape(shape)


def best_ms(fn, runs):
    fn()
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t) * 1e3)
    return best


def torch_cases(runs, slow_runs, run_all):
    s = 64
    out = {}

    def fwd_bwd(f, *tensors):
        ts = [t.detach().clone().requires_grad_(True) for t in tensors]

        def run():
            y = f(*ts)
            y.backward(torch.ones_like(y))
        return run

    for c, k in [(32, 5), (64, 5), (32, 3)]:
        x, w, b = data(1, c, s, s, s), data(c, 1, k, k, k, scale=0.1), torch.zeros(c)
        conv = lambda x, w, b, c=c, k=k: F.conv3d(x, w, b, padding=k // 2, groups=c)
        with torch.no_grad():
            out[f"dwconv_c{c}_k{k}_s1_fwd"] = best_ms(lambda: conv(x, w, b), runs)
        if c == 32 or run_all:
            out[f"dwconv_c{c}_k{k}_s1_fwdbwd"] = best_ms(fwd_bwd(conv, x, w, b), slow_runs)
    x, w = data(1, 32, s, s, s), data(32, 1, 5, 5, 5, scale=0.1)
    conv2 = lambda x, w: F.conv3d(x, w, None, stride=2, padding=2, groups=32)
    with torch.no_grad():
        out["dwconv_c32_k5_s2_fwd"] = best_ms(lambda: conv2(x, w), runs)
    out["dwconv_c32_k5_s2_fwdbwd"] = best_ms(fwd_bwd(conv2, x, w), slow_runs)
    xt = data(1, 32, 32, 32, 32)
    convt = lambda x, w: F.conv_transpose3d(x, w, None, stride=2, padding=2, groups=32)
    with torch.no_grad():
        out["dwconvT_c32_k5_s2_fwd"] = best_ms(lambda: convt(xt, w), runs)
    out["dwconvT_c32_k5_s2_fwdbwd"] = best_ms(fwd_bwd(convt, xt, w), slow_runs)

    w1, b1 = data(128, 32, 1, 1, 1, scale=0.1), torch.zeros(128)
    pw = lambda x, w, b: F.conv3d(x, w, b)
    with torch.no_grad():
        out["conv1x1x1_32to128_fwd"] = best_ms(lambda: pw(x, w1, b1), runs)
    out["conv1x1x1_32to128_fwdbwd"] = best_ms(fwd_bwd(pw, x, w1, b1), runs)

    g, be = torch.ones(32), torch.zeros(32)
    gn = lambda x, g, b: F.group_norm(x, 32, g, b, 1e-5)
    with torch.no_grad():
        out["group_norm_c32_fwd"] = best_ms(lambda: gn(x, g, be), runs)
    out["group_norm_c32_fwdbwd"] = best_ms(fwd_bwd(gn, x, g, be), runs)

    xg = data(1, 128, s, s, s, scale=3.0)
    with torch.no_grad():
        out["gelu_c128_fwd"] = best_ms(lambda: F.gelu(xg), runs)
        out["bias_gelu_c128_fwd"] = best_ms(lambda: F.gelu(xg + b1.view(1, -1, 1, 1, 1)), runs)
    out["gelu_c128_fwdbwd"] = best_ms(fwd_bwd(F.gelu, xg), runs)
    return out


def ours(runs):
    cmd = ["cargo", "run", "--release", "-q", "-p", "mednext", "--example", "ops_timing"]
    subprocess.run(cmd + ["--help"], cwd=ROOT, check=False, capture_output=True)  # build, not timed
    res = subprocess.run(cmd + [str(runs)], cwd=ROOT, check=True, capture_output=True, text=True)
    table = {}
    for line in res.stdout.splitlines():
        name, ms = line.split()
        table[name] = float(ms)
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--all", action="store_true", help="also time PyTorch's (1,64,64³) depthwise backward (~1 min)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    mine = ours(args.runs)
    ref = torch_cases(args.runs, 1, args.all)
    print(f"load: {os.getloadavg()}")
    print(f"| case | ours (ms) | PyTorch 2 threads (ms) | PyTorch / ours |")
    print("| --- | --- | --- | --- |")
    for name, ms in mine.items():
        r = ref.get(name)
        if r is None:
            print(f"| {name} | {ms:.1f} | – | – |")
        else:
            print(f"| {name} | {ms:.1f} | {r:.1f} | {r / ms:.2f}× |")


if __name__ == "__main__":
    main()

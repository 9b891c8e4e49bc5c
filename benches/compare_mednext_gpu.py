"""Side-by-side GPU timing: candle MedNeXt (`crates/mednext/examples/mednext_bench_gpu.rs`, `--features cuda`)
vs PyTorch running the same network, on the same GPU, fp32 and AMP.

PyTorch side: ``tools/golden/mednext_reference.py`` (a MedNeXt v1 built from ``reference/mednext.md`` that
loads the original's state dicts strictly). Before any timing it is checked ON THE GPU (fp32, TF32 off)
against the parity fixtures committed in ``crates/mednext/tests/data/mednext_small_*`` (gate 1e-4). The
fixtures are read with a small built-in safetensors reader, so the ``safetensors`` package is not needed.

Precision modes of the PyTorch side:

* ``fp32``: float32 everywhere, ``torch.backends.cudnn.allow_tf32 = False`` and
  ``torch.backends.cuda.matmul.allow_tf32 = False`` (the candle side is plain f32: no TF32 in its own kernels,
  and candle's cuBLAS f32 GEMMs do not use reduced precision by default);
* ``amp``: ``torch.autocast("cuda", dtype=torch.bfloat16)`` (the paper's nnU-Net trainers use AMP).

``cudnn.benchmark = True`` in both. Cases (MedNeXt-M, 3 input channels, 2 classes):

* ``infer_k5_128``: eval forward of ``out_0`` (no deep supervision, no gradients) at 1×3×128³;
* ``train_k5_128_b2``: one optimisation step at 2×3×128³: forward of the deep-supervision network, the loss
  ``Σ w_i·CE(out_i)``, ``w = [8,4,2,1,0]/15``, backward, AdamW (lr 1e-3, weight decay 3e-5), with the M
  preset's ``outside_block`` checkpointing (``--no-checkpointing`` to switch it off on both sides).

Each measurement is its own process: ``--warmup`` untimed steps, then ``--repeats`` timed steps, each ended
by a device synchronisation; the median is reported. Peak GPU memory: PyTorch's
``torch.cuda.max_memory_reserved`` / ``max_memory_allocated`` for the torch side, and for both sides the
peak ``total − free`` device memory sampled every 2 ms during the timed steps, minus the value before the model
was built (``cuMemGetInfo`` in the candle binary, ``torch.cuda.mem_get_info`` in a sampler thread here).
Ratios are candle / PyTorch (< 1: candle is faster).

Reproduce on a GPU machine (no Rust needed there; see docs/gpu.md):

    tools/cuda/run-on-gpu.sh                      # runs this script as its last step
    python3 benches/compare_mednext_gpu.py --rust-bin /path/to/mednext_bench_gpu [--repeats 5] [--out res.json]
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "crates" / "mednext" / "tests" / "data"
CASES = {
    "infer_k5_128": dict(mode="infer", kernel=5, size=128, batch=1),
    "train_k5_128_b2": dict(mode="train", kernel=5, size=128, batch=2),
}
DS_WEIGHTS = [8 / 15, 4 / 15, 2 / 15, 1 / 15, 0.0]


def load_safetensors(path):
    """Minimal safetensors reader (F32/F64/I64 only) -> dict of CPU tensors."""
    import torch

    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        buf = bytearray(raw[8 + n + a:8 + n + b])
        t = torch.frombuffer(buf, dtype=dtypes[meta["dtype"]]) if b > a else torch.empty(0, dtype=dtypes[meta["dtype"]])
        out[name] = t.reshape(meta["shape"]).clone()
    return out


def set_precision(torch):
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def check_fixtures_on_gpu():
    """The reference model on the GPU (fp32) against the committed PyTorch fixtures; returns max |diff|."""
    import torch

    sys.path.insert(0, str(ROOT / "tools" / "golden"))
    from mednext_reference import MedNeXt

    set_precision(torch)
    cfg = dict(in_channels=3, n_channels=8, n_classes=2, exp_r=2, deep_supervision=True, do_res=True,
               do_res_up_down=True, block_counts=[1] * 9)
    worst = 0.0
    for k, weights, io in [(3, "mednext_small_k3.safetensors", "mednext_small_k3_io.safetensors"),
                           (5, "mednext_small_k5_upkern.safetensors", "mednext_small_k5_upkern_io.safetensors")]:
        net = MedNeXt(kernel_size=k, **cfg).eval()
        net.load_state_dict(load_safetensors(FIXTURES / weights), strict=True)
        net = net.cuda()
        ref = load_safetensors(FIXTURES / io)
        with torch.no_grad():
            outs = net(ref["input"].cuda())
        for i, o in enumerate(outs):
            worst = max(worst, (o.cpu() - ref[f"output.{i}"]).abs().max().item())
    return worst


class MemSampler:
    """Peak (total − free) device memory, sampled every 2 ms in a thread."""

    def __init__(self, torch):
        self.torch, self.peak, self.stop = torch, 0, False
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop:
            free, total = self.torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            time.sleep(0.002)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.t.join()


def torch_worker(a):
    import torch

    sys.path.insert(0, str(ROOT / "tools" / "golden"))
    from mednext_reference import preset

    set_precision(torch)
    torch.manual_seed(0)
    dev = torch.device("cuda")
    free, total = torch.cuda.mem_get_info()
    baseline = total - free
    s, b, c = a.size, a.batch, 3
    x = torch.sin(torch.arange(b * c * s**3, dtype=torch.float32) * 0.0137).reshape(b, c, s, s, s).to(dev)
    amp = a.precision == "amp"
    seconds = []
    if a.mode == "infer":
        net = preset("M", c, 2, a.kernel, deep_supervision=False, checkpointing=False).to(dev).eval()

        def step():
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                y = net(x)
            return float(y.float().sum())
    else:
        net = preset("M", c, 2, a.kernel, deep_supervision=True, checkpointing=a.checkpointing == "on").to(dev)
        net.train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=3e-5)
        targets = []
        for i in range(5):
            si = s >> i
            r = torch.arange(si)
            lab = (r.view(-1, 1, 1) + r.view(1, -1, 1) + r.view(1, 1, -1)) % 2
            t = torch.nn.functional.one_hot(lab, 2).permute(3, 0, 1, 2)[None].float()
            targets.append(t.repeat(b, 1, 1, 1, 1).to(dev))

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                outs = net(x)
                loss = sum(w * (-(torch.log_softmax(o.float(), 1) * tg).sum(1).mean())
                           for o, tg, w in zip(outs, targets, DS_WEIGHTS) if w > 0)
            loss.backward()
            opt.step()
            return float(loss.detach())
    params = sum(p.numel() for p in net.parameters())
    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    with MemSampler(torch) as m:
        for _ in range(a.repeats):
            t = time.perf_counter()
            step()
            torch.cuda.synchronize()
            seconds.append(time.perf_counter() - t)
    mb = 1024.0 * 1024.0
    print(json.dumps({"side": "torch", "precision": a.precision, "torch": torch.__version__,
                      "seconds": seconds, "median_s": sorted(seconds)[len(seconds) // 2],
                      "parameters": params, "peak_used_mb": m.peak / mb, "baseline_used_mb": baseline / mb,
                      "max_reserved_mb": torch.cuda.max_memory_reserved() / mb,
                      "max_allocated_mb": torch.cuda.max_memory_allocated() / mb}))


def run_child(cmd, timeout):
    """Runs `cmd`; returns the parsed JSON of its last `{...}` stdout line, or {"error": ...}."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr[-1500:]}"}
    lines = [l for l in p.stdout.splitlines() if l.strip().startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": "no JSON output"}


def gpu_name():
    try:
        import torch

        return torch.cuda.get_device_name(0)
    except Exception as e:  # noqa: BLE001 - informational only
        return f"unknown ({e})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rust-bin", default=str(ROOT / ".cuda" / "bin" / "mednext_bench_gpu"))
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--skip-rust", action="store_true")
    ap.add_argument("--no-checkpointing", action="store_true")
    ap.add_argument("--timeout", type=int, default=150, help="seconds per measurement process")
    ap.add_argument("--out", help="write all results as JSON here")
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--kernel", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--precision", help=argparse.SUPPRESS)
    ap.add_argument("--checkpointing", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return torch_worker(a)

    gpu = gpu_name()
    print(f"GPU: {gpu}", flush=True)
    result = {"gpu": gpu, "cases": {}}
    if not a.skip_torch:
        try:
            d = check_fixtures_on_gpu()
        except Exception as e:  # noqa: BLE001 - reported, the timings still run
            d = float("nan")
            print(f"PyTorch fixture check failed: {e}", flush=True)
        result["torch_fixture_max_diff"] = d
        print(f"PyTorch reference on the GPU vs the MedNeXt fixtures: max |diff| = {d:.2e} (gate 1e-4)", flush=True)
        if not d <= 1e-4:
            print("WARNING: the PyTorch reference does not match the fixtures", flush=True)
    ckpt = "off" if a.no_checkpointing else "on"
    rows = []
    for name in a.cases:
        c = CASES[name]
        common = ["--mode", c["mode"], "--kernel", str(c["kernel"]), "--size", str(c["size"]),
                  "--batch", str(c["batch"]), "--repeats", str(a.repeats), "--warmup", str(a.warmup),
                  "--checkpointing", ckpt]
        res = {}
        if not a.skip_torch:
            for prec in ("fp32", "amp"):
                res[f"torch_{prec}"] = run_child(
                    [sys.executable, __file__, "--worker", "--precision", prec] + common, a.timeout)
                print(f"{name} torch {prec}: {json.dumps(res[f'torch_{prec}'])[:400]}", flush=True)
        if not a.skip_rust:
            res["candle"] = run_child([a.rust_bin, "--device", "cuda"] + common, a.timeout)
            print(f"{name} candle: {json.dumps(res['candle'])[:400]}", flush=True)
        result["cases"][name] = res
        rows.append((name, res))

    def ms(r):
        return f"{1e3 * r['median_s']:.1f}" if r and "median_s" in r else "–"

    def mem(r):
        if not r or r.get("peak_used_mb") is None or "baseline_used_mb" not in r or r["baseline_used_mb"] is None:
            return "–"
        return f"{r['peak_used_mb'] - r['baseline_used_mb']:.0f}"

    def ratio(a_, b_):
        if a_ and b_ and "median_s" in a_ and "median_s" in b_:
            return f"{a_['median_s'] / b_['median_s']:.2f}×"
        return "–"

    print(f"\nMedNeXt-M k5, {gpu}, median of {a.repeats} (after {a.warmup} warm-up), checkpointing {ckpt} (train)")
    print("| case | torch fp32 ms | torch AMP ms | candle fp32 ms | candle/torch fp32 | candle/torch AMP |"
          " peak MB torch fp32 / AMP / candle (sampled) | torch max_reserved MB fp32 / AMP |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        t32, tamp, cd = r.get("torch_fp32"), r.get("torch_amp"), r.get("candle")
        resv = " / ".join(f"{x['max_reserved_mb']:.0f}" if x and "max_reserved_mb" in x else "–" for x in (t32, tamp))
        print(f"| {name} | {ms(t32)} | {ms(tamp)} | {ms(cd)} | {ratio(cd, t32)} | {ratio(cd, tamp)} |"
              f" {mem(t32)} / {mem(tamp)} / {mem(cd)} | {resv} |")
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

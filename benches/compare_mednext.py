"""Side-by-side timing: candle MedNeXt (`examples/mednext_bench.rs`) vs PyTorch running the original MedNeXt.

PyTorch side: ``tools/golden/mednext_reference.py`` (a re-implementation of the original MIC-DKFZ/MedNeXt v1
built from ``reference/mednext.md``; before any timing it is checked against the original's parity fixtures
in ``../shared/fixtures/mednext`` at atol = rtol = 1e-4 — it loads the original state dicts strictly), PyTorch
2.x CPU with ``torch.set_num_threads(2)``. Rust side: ``target/release/examples/mednext_bench`` with
``RAYON_NUM_THREADS=2``.

Cases (MedNeXt-M, in 3, 2 classes, batch 1):

* ``infer_k5_128`` / ``infer_k3_128``: eval forward of ``out_0`` only (no deep supervision, no checkpointing,
  no gradients) at 1×3×128³;
* ``train_k5_64_ckpt`` / ``train_k5_64_nockpt`` / ``train_k3_64_ckpt`` / ``train_k3_64_nockpt``: one forward + backward of the deep-supervision network at
  1×3×64³ with the DS-weighted cross-entropy ``Σ w_i·CE(out_i)``, ``w = [8,4,2,1,0]/15``, with and without
  ``outside_block`` checkpointing (the optimizer step is not timed).

For the inference cases both sides use the same weights (the PyTorch model's seeded initialisation, passed
to the Rust binary as safetensors) and the same deterministic input, and the table reports the largest
absolute difference of ``out_0``. ``--mednext-repo /path/to/MedNeXt`` times the original repository's
``MedNeXt`` class itself instead of the re-implementation.

Every measurement runs in its own process; peak RSS is that process's ``ru_maxrss`` (``os.wait4``). Timings
are single runs by default (``--repeats`` runs inside one process, ``--rounds`` repeats the whole interleaved
case list — PyTorch, candle, next case — and reports the median over rounds and each round's ratio); the
ratio is candle / PyTorch (< 1 means candle is faster).

Reproduce (from the repository root):

    cargo build --release --example mednext_bench
    .venv/bin/python benches/compare_mednext.py            # all cases, ~5-10 min of CPU on 2 cores
    .venv/bin/python benches/compare_mednext.py --cases infer_k5_128 --repeats 3
    .venv/bin/python benches/compare_mednext.py --cases infer_k5_128 infer_k3_128 train_k5_64_ckpt \\
        train_k3_64_ckpt train_k3_64_nockpt --rounds 2

Allocator: the Rust binary calls ``mednext::retain_freed_memory()`` (glibc keeps freed blocks of 32 MiB and more
for reuse instead of unmapping them; the repository's ``train``/``predict`` examples do the same), PyTorch runs
with glibc's defaults. ``--torch-retain-freed-memory`` gives PyTorch the same setting (through glibc's
``MALLOC_MMAP_MAX_``/``MALLOC_TRIM_THRESHOLD_``) and ``--rust-default-allocator`` takes it from the Rust side,
so both combinations can be reported.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "infer_k5_128": dict(mode="infer", kernel=5, size=128, checkpointing="off"),
    "infer_k3_128": dict(mode="infer", kernel=3, size=128, checkpointing="off"),
    "train_k5_64_ckpt": dict(mode="train", kernel=5, size=64, checkpointing="on"),
    "train_k5_64_nockpt": dict(mode="train", kernel=5, size=64, checkpointing="off"),
    "train_k3_64_ckpt": dict(mode="train", kernel=3, size=64, checkpointing="on"),
    "train_k3_64_nockpt": dict(mode="train", kernel=3, size=64, checkpointing="off"),
}
# glibc tunables equivalent to `mednext::retain_freed_memory()` (mallopt M_MMAP_MAX = 0, M_TRIM_THRESHOLD = 2^31-1).
MALLOC_RETAIN = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "2147483647"}
DS_WEIGHTS = [8 / 15, 4 / 15, 2 / 15, 1 / 15, 0.0]


# ---- PyTorch worker (runs in a child process) ----------------------------------------------------------


def torch_worker(a):
    import torch

    sys.path.insert(0, str(ROOT / "tools" / "golden"))
    from mednext_reference import preset

    if a.mednext_repo:
        sys.path.insert(0, a.mednext_repo)
        from nnunet_mednext.network_architecture.mednextv1.MedNextV1 import MedNeXt as Original
        import mednext_reference

        def preset(name, nin, nc, k, deep_supervision=False, checkpointing=None):
            kw = dict(mednext_reference.PRESETS[name])
            if checkpointing is not None:
                kw["checkpoint_style"] = "outside_block" if checkpointing else None
            return Original(in_channels=nin, n_channels=32, n_classes=nc, kernel_size=k,
                            deep_supervision=deep_supervision, do_res=True, do_res_up_down=True, **kw)

    torch.set_num_threads(2)
    torch.manual_seed(0)
    s, c = a.size, a.in_channels
    n = c * s**3
    x = torch.sin(torch.arange(n, dtype=torch.float32) * 0.0137).reshape(1, c, s, s, s)
    seconds = []
    if a.mode == "infer":
        net = preset(a.preset, c, a.classes, a.kernel, deep_supervision=False, checkpointing=False).eval()
        params = sum(p.numel() for p in net.parameters())
        with torch.no_grad():
            for _ in range(a.repeats):
                t = time.perf_counter()
                y = net(x)
                float(y.sum())
                seconds.append(time.perf_counter() - t)
        if a.exchange:
            from safetensors.torch import save_file

            save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()},
                      str(Path(a.exchange) / "weights.safetensors"))
            save_file({"out_0": y.contiguous()}, str(Path(a.exchange) / "torch_out.safetensors"))
    else:
        net = preset(a.preset, c, a.classes, a.kernel, deep_supervision=True,
                     checkpointing=a.checkpointing == "on").train()
        params = sum(p.numel() for p in net.parameters())
        targets = []
        for i in range(5):
            si = s >> i
            r = torch.arange(si)
            lab = (r.view(-1, 1, 1) + r.view(1, -1, 1) + r.view(1, 1, -1)) % a.classes
            targets.append(torch.nn.functional.one_hot(lab, a.classes).permute(3, 0, 1, 2)[None].float())
        for _ in range(a.repeats):
            net.zero_grad(set_to_none=True)
            t = time.perf_counter()
            outs = net(x)
            loss = sum(w * (-(torch.log_softmax(o, 1) * tg).sum(1).mean())
                       for o, tg, w in zip(outs, targets, DS_WEIGHTS) if w > 0)
            loss.backward()
            float(loss)
            seconds.append(time.perf_counter() - t)
    seconds_sorted = sorted(seconds)
    print(json.dumps({"side": "torch", "torch": torch.__version__, "seconds": seconds,
                      "median_s": seconds_sorted[len(seconds) // 2], "parameters": params}))


# ---- driver ---------------------------------------------------------------------------------------------


def run_child(cmd, env=None):
    """Runs `cmd`, returns (parsed JSON of its last stdout line, peak RSS in MB of that process)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KB on Linux)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        out, err = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{err[-3000:]}")
    line = [l for l in out.splitlines() if l.strip().startswith("{")][-1]
    return json.loads(line), usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--repeats", type=int, default=1, help="timed runs inside each process (median)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds of the interleaved case list (PyTorch, candle, next case, ...); median of rounds")
    ap.add_argument("--preset", default="M")
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--skip-rust", action="store_true")
    ap.add_argument("--skip-check", action="store_true", help="skip the fixture check of the PyTorch model")
    ap.add_argument("--rust-bin", default=str(ROOT / "target" / "release" / "examples" / "mednext_bench"))
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--kernel", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--checkpointing", help=argparse.SUPPRESS)
    ap.add_argument("--exchange", help=argparse.SUPPRESS)
    ap.add_argument("--torch-retain-freed-memory", action="store_true",
                    help="run PyTorch with the allocator setting of mednext::retain_freed_memory (glibc env vars)")
    ap.add_argument("--rust-default-allocator", action="store_true",
                    help="run the Rust binary with glibc's default allocator settings")
    ap.add_argument("--mednext-repo", help="time the original repository's MedNeXt (path to a checkout)")
    a = ap.parse_args()
    if a.worker:
        return torch_worker(a)

    if not a.skip_torch and not a.skip_check:
        sys.path.insert(0, str(ROOT / "tools" / "golden"))
        import torch
        from mednext_reference import check_against_fixtures

        torch.set_num_threads(2)
        print(f"PyTorch reference vs original MedNeXt fixtures: max |diff| = {check_against_fixtures():.2e}"
              " (gate 1e-4)")
    if not a.skip_rust and not Path(a.rust_bin).exists():
        sys.exit(f"{a.rust_bin} missing: cargo build --release --example mednext_bench")
    print("load before:", os.getloadavg())
    env = dict(os.environ, RAYON_NUM_THREADS="2", OMP_NUM_THREADS="2")
    torch_env = dict(env, **(MALLOC_RETAIN if a.torch_retain_freed_memory else {}))
    rust_flags = ["--default-allocator"] if a.rust_default_allocator else []
    print(f"allocator: PyTorch {'retain (' + str(MALLOC_RETAIN) + ')' if a.torch_retain_freed_memory else 'glibc default'},"
          f" candle {'glibc default' if a.rust_default_allocator else 'mednext::retain_freed_memory()'}")
    results = {name: {"torch": [], "rust": [], "diff": [], "ratio": []} for name in a.cases}
    for rnd in range(a.rounds):
        # interleaved: PyTorch then candle for each case, the whole list once per round
        print(f"round {rnd + 1}/{a.rounds}, load {os.getloadavg()}", flush=True)
        for name in a.cases:
            c = CASES[name]
            common = ["--mode", c["mode"], "--kernel", str(c["kernel"]), "--size", str(c["size"]),
                      "--checkpointing", c["checkpointing"], "--repeats", str(a.repeats),
                      "--preset", a.preset, "--in-channels", str(a.in_channels), "--classes", str(a.classes)]
            res = results[name]
            with tempfile.TemporaryDirectory() as xdir:
                share = c["mode"] == "infer" and not a.skip_torch
                t = r = None
                if not a.skip_torch:
                    extra = ["--exchange", xdir] if share else []
                    if a.mednext_repo:
                        extra += ["--mednext-repo", a.mednext_repo]
                    t = run_child([sys.executable, __file__, "--worker"] + common + extra, torch_env)
                    res["torch"].append(t)
                    print(f"{name} torch : {t[0]['median_s']:.2f} s, peak RSS {t[1]:.0f} MB", flush=True)
                if not a.skip_rust:
                    extra = ["--weights", f"{xdir}/weights.safetensors", "--output",
                             f"{xdir}/rust_out.safetensors"] if share else []
                    r = run_child([a.rust_bin] + common + extra + rust_flags, env)
                    res["rust"].append(r)
                    print(f"{name} candle: {r[0]['median_s']:.2f} s, peak RSS {r[1]:.0f} MB", flush=True)
                    if share:
                        from safetensors.torch import load_file

                        diff = float((load_file(f"{xdir}/rust_out.safetensors")["out_0"]
                                      - load_file(f"{xdir}/torch_out.safetensors")["out_0"]).abs().max())
                        res["diff"].append(diff)
                        print(f"{name} max |out_0 candle - torch| = {diff:.2e}", flush=True)
                if t is not None and r is not None:
                    res["ratio"].append(r[0]["median_s"] / t[0]["median_s"])
    print("load after:", os.getloadavg())

    def med(v):
        v = sorted(v)
        return v[len(v) // 2] if v else None

    def secs(runs):
        m = med([x[0]["median_s"] for x in runs])
        return "-" if m is None else f"{m:.2f}"

    def rss(runs):
        return "-" if not runs else f"{max(x[1] for x in runs):.0f}"

    print()
    print("| case | PyTorch s | candle s | ratio candle/PyTorch (per round) | PyTorch peak RSS MB "
          "| candle peak RSS MB | max abs diff out_0 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in a.cases:
        res = results[name]
        ratio = "-" if not res["ratio"] else \
            f"{med(res['ratio']):.2f} ({', '.join(f'{x:.2f}' for x in res['ratio'])})"
        dd = "-" if not res["diff"] else f"{max(res['diff']):.1e}"
        print(f"| {name} | {secs(res['torch'])} | {secs(res['rust'])} | {ratio} | {rss(res['torch'])} "
              f"| {rss(res['rust'])} | {dd} |")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()

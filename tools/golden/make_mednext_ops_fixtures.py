"""Golden values for the 3-D ops of the `mednext` crate (forward AND gradients).

Writes crates/mednext/tests/data/ops/<case>.safetensors (read by crates/mednext/tests/ops_grad.rs). Re-run with

    .venv/bin/python tools/golden/make_mednext_ops_fixtures.py

Reference functions (PyTorch 2.15 CPU, float32, 2 threads):
  * depthwise conv:            torch.nn.functional.conv3d(x, w, b, stride, padding=k//2, groups=C)
  * depthwise transposed conv: torch.nn.functional.conv_transpose3d(x, w, b, stride=2, padding=k//2, groups=C)
  * 1x1x1 conv:                torch.nn.functional.conv3d(x, w, b, stride)               (w: (Cout, Cin, 1, 1, 1))
  * 1x1x1 transposed conv:     torch.nn.functional.conv_transpose3d(x, w, b, stride)     (w: (Cin, Cout, 1, 1, 1))
  * GroupNorm(C, C):           torch.nn.functional.group_norm(x, C, gamma, beta, eps=1e-5)
  * GELU:                      torch.nn.functional.gelu(x)                 (approximate='none')
  * bias + GELU:               torch.nn.functional.gelu(x + b.view(1, C, 1, 1, 1))

Each file holds the inputs (`x`, `w`/`gamma`, `b`/`beta`), the output `y`, a fixed upstream gradient `gy`
(uniform in [-1, 1)) and the gradients `gx`, `gw`, `gb` of `sum(y * gy)`; metadata: `op`, `k`, `stride`.
"""
import os
import zlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "mednext", "tests", "data", "ops")


def uniform(gen, *shape, scale=1.0):
    return (torch.rand(*shape, generator=gen) * 2 - 1) * scale


def run(name, op, fn, x, params, meta):
    x = x.clone().requires_grad_(True)
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    y = fn(x, **params)
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    gy = uniform(gen, *y.shape)
    (y * gy).sum().backward()
    tensors = {"x": x.detach(), "y": y.detach(), "gy": gy, "gx": x.grad}
    for k, v in params.items():
        tensors[k] = v.detach()
        tensors["g" + k] = v.grad
    tensors = {k: v.contiguous().float() for k, v in tensors.items()}
    path = os.path.join(OUT, name + ".safetensors")
    save_file(tensors, path, metadata={"op": op, **{k: str(v) for k, v in meta.items()}})
    print(f"{name}: y {tuple(y.shape)}, {os.path.getsize(path)} bytes")


def main():
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240607)

    for k, s, shape in [(3, 1, (2, 3, 5, 6, 7)), (5, 2, (2, 3, 7, 8, 6)), (7, 1, (1, 2, 6, 5, 9)), (7, 2, (2, 2, 9, 7, 8))]:
        c = shape[1]
        run(f"dwconv_k{k}_s{s}", "depthwise_conv3d",
            lambda x, w, b, s=s, k=k, c=c: F.conv3d(x, w, b, stride=s, padding=k // 2, groups=c),
            uniform(gen, *shape), {"w": uniform(gen, c, 1, k, k, k, scale=0.5), "b": uniform(gen, c, scale=0.5)},
            {"k": k, "stride": s})

    for k, shape in [(3, (2, 3, 4, 5, 3)), (5, (1, 3, 4, 3, 5)), (7, (2, 2, 3, 4, 4))]:
        c = shape[1]
        run(f"dwconvT_k{k}_s2", "depthwise_conv_transpose3d",
            lambda x, w, b, k=k, c=c: F.conv_transpose3d(x, w, b, stride=2, padding=k // 2, groups=c),
            uniform(gen, *shape), {"w": uniform(gen, c, 1, k, k, k, scale=0.5), "b": uniform(gen, c, scale=0.5)},
            {"k": k, "stride": 2})

    for s, shape in [(1, (2, 4, 5, 6, 7)), (2, (2, 4, 5, 6, 7))]:
        run(f"conv1x1x1_s{s}", "conv1x1x1", lambda x, w, b, s=s: F.conv3d(x, w, b, stride=s),
            uniform(gen, *shape), {"w": uniform(gen, 6, 4, 1, 1, 1, scale=0.5), "b": uniform(gen, 6, scale=0.5)},
            {"k": 1, "stride": s})
        run(f"convT1x1x1_s{s}", "conv_transpose1x1x1", lambda x, w, b, s=s: F.conv_transpose3d(x, w, b, stride=s),
            uniform(gen, *shape), {"w": uniform(gen, 4, 6, 1, 1, 1, scale=0.5), "b": uniform(gen, 6, scale=0.5)},
            {"k": 1, "stride": s})

    shape = (2, 4, 5, 6, 7)
    run("group_norm", "channel_group_norm", lambda x, w, b: F.group_norm(x, shape[1], w, b, eps=1e-5),
        uniform(gen, *shape, scale=2.0) + 0.5,
        {"w": 1 + uniform(gen, shape[1], scale=0.5), "b": uniform(gen, shape[1], scale=0.5)}, {"eps": 1e-5})

    shape = (2, 3, 6, 7, 8)
    run("gelu", "gelu_erf", lambda x: F.gelu(x), uniform(gen, *shape, scale=5.0), {}, {})
    run("bias_gelu", "bias_gelu", lambda x, b: F.gelu(x + b.view(1, -1, 1, 1, 1)),
        uniform(gen, *shape, scale=5.0), {"b": uniform(gen, shape[1])}, {})


if __name__ == "__main__":
    main()

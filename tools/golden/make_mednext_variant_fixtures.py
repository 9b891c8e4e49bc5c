"""Golden fixtures for the `mednext` crate's variant tests (crates/mednext/tests/variants.rs).

Complements the shared parity fixtures (`fixtures/mednext/`, C=8, exp_r 2, one block per stage) with tiny
networks that exercise what those do not: a per-stage expansion ratio (the original's `down_s` uses
`exp_r[s+1]`), several blocks per stage, GRN with non-zero parameters, the channels-first LayerNorm
(`norm_type='layer'`), `do_res`/`do_res_up_down` off, separate encoder/decoder kernels, and an nnU-Net v1
`.model` checkpoint with a DDP `module.` prefix.

Reference: the ORIGINAL MedNeXt code, MIC-DKFZ/MedNeXt @ 0b78ed8
(`nnunet_mednext/network_architecture/mednextv1/{MedNextV1.py,blocks.py}`), imported from a checkout:

    git clone https://github.com/MIC-DKFZ/MedNeXt && git -C MedNeXt checkout 0b78ed8
    .venv/bin/python tools/golden/make_mednext_variant_fixtures.py --mednext-repo MedNeXt

(only `nnunet_mednext/__init__.py`, `network_architecture/__init__.py`, `network_architecture/mednextv1/`,
`run/__init__.py` and `run/load_weights.py` are needed). Output, all float32, written to crates/mednext/tests/data/:

    variant_<name>.model            torch.save({'state_dict': {'module.'+k: v}, 'epoch': 1, ...})
    variant_<name>_io.safetensors   input (1,in,32,16,16) (anisotropic on purpose) and output.0 .. output.{n-1}
    variants.json                   the constructor arguments of every variant

Seeds: torch.manual_seed(2024 + i) before building variant i; every parameter is then perturbed with
N(0, 0.1) from a generator seeded 77 + i (so norm affines and GRN gamma/beta are non-trivial); the input is
randn from a generator seeded 5. Eval mode, no grad, 1 thread.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

VARIANTS = {
    "perstage_grn": dict(in_channels=2, n_channels=2, n_classes=3, exp_r=[2, 3, 4, 4, 4, 4, 4, 3, 2],
                         kernel_size=3, deep_supervision=True, do_res=True, do_res_up_down=True,
                         block_counts=[1, 2, 1, 1, 1, 1, 1, 2, 1], norm_type="group", grn=True),
    "layernorm_k5": dict(in_channels=1, n_channels=2, n_classes=2, exp_r=2, kernel_size=5,
                         deep_supervision=True, do_res=True, do_res_up_down=True,
                         block_counts=[1, 1, 1, 1, 1, 1, 1, 1, 1], norm_type="layer", grn=False),
    "nores_split_kernels": dict(in_channels=1, n_channels=2, n_classes=2, exp_r=[3, 2, 2, 2, 2, 2, 2, 2, 3],
                                kernel_size=None, enc_kernel_size=3, dec_kernel_size=5,
                                deep_supervision=False, do_res=False, do_res_up_down=False,
                                block_counts=[2, 1, 1, 1, 1, 1, 1, 1, 2], norm_type="group", grn=False),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mednext-repo", required=True, type=Path)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parents[2] / "crates/mednext/tests/data")
    args = ap.parse_args()
    sys.path.insert(0, str(args.mednext_repo))
    from nnunet_mednext.network_architecture.mednextv1.MedNextV1 import MedNeXt

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, (name, kw) in enumerate(VARIANTS.items()):
        torch.manual_seed(2024 + i)
        net = MedNeXt(**kw, checkpoint_style=None, dim="3d")
        g = torch.Generator().manual_seed(77 + i)
        with torch.no_grad():
            for p_name, p in net.named_parameters():
                if p_name != "dummy_tensor":
                    p.add_(0.1 * torch.randn(p.shape, generator=g))
        net.eval()
        x = torch.randn((1, kw["in_channels"], 32, 16, 16), generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            out = net(x)
        outs = out if isinstance(out, list) else [out]
        sd = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
        torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}, "epoch": 1,
                    "optimizer_state_dict": {"state": {}, "param_groups": []},
                    "plot_stuff": ([0.5], [0.4], [0.3], [0.2])},
                   args.out / f"variant_{name}.model")
        io = {"input": x.contiguous()}
        io.update({f"output.{j}": o.contiguous() for j, o in enumerate(outs)})
        save_file(io, str(args.out / f"variant_{name}_io.safetensors"))
        print(name, len(sd), "tensors", sum(v.numel() for v in sd.values()), "values",
              [tuple(o.shape) for o in outs])
    (args.out / "variants.json").write_text(json.dumps(VARIANTS, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Golden fixtures for the `upkern` crate (checkpoint I/O and UpKern kernel resizing).

Produces ``crates/upkern/tests/data/``:

* copies of the shared MedNeXt fixtures made by the ORIGINAL implementation (MIC-DKFZ/MedNeXt @ 0b78ed8,
  ``nnunet_mednext/run/load_weights.py::upkern_load_weights``, PyTorch 2.15; see
  ``../shared/fixtures/mednext/README.md``): ``upkern_unit.safetensors`` (w3 -> w5),
  ``mednext_small_k3.safetensors``, ``mednext_small_k5_upkern.safetensors``, and
  ``upkern_meta.json`` (the model config and the list of interpolated keys from ``fixtures_meta.json``),
  ``mednext_small_k3_config.json`` (that config alone: the constructor's keyword arguments);
* ``resize_cases.safetensors``: seeded kernels and their PyTorch ``F.interpolate(..., align_corners=False)``
  resizes: trilinear 3->7, 5->7, 7->5 (down), anisotropic (3,3,3)->(3,5,7), and bilinear 3->5 (2-D);
* ``ckpt/``: one tiny state dict saved with ``torch.save`` in the layouts ``read_checkpoint`` must decode:
  ``plain.pth`` (a plain state dict), ``v1.model`` (nnU-Net v1: ``{"state_dict", "optimizer_state_dict",
  "amp_grad_scaler", "epoch", "plot_stuff", "best_stuff", "plans"}``), ``v2.pth`` (nnU-Net v2:
  ``{"network_weights"`` with ``_orig_mod.`` keys, ``"optimizer_state", "logging"`` with numpy scalars,
  ``"init_args"`` with a ``torch.device``, ``"trainer_name", "current_epoch", ...}``), ``ddp.pth``
  (``module.`` prefixes), ``expected.safetensors`` (the same tensors, reference), and the failure cases
  ``nested_only.pth`` (weights only under an unknown key), ``legacy.pth`` (pre-1.6 non-zip format),
  ``truncated.pth`` (the first half of ``plain.pth``) and ``not_a_checkpoint.txt``.

Re-run with ``.venv/bin/python tools/golden/make_upkern_fixtures.py`` from the repository root (needs
``../shared/fixtures/mednext`` for the copies; everything else is generated here).
"""

import json
import shutil
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "fixtures" / "mednext"
OUT = ROOT / "crates" / "upkern" / "tests" / "data"


def copy_shared():
    for name in ["upkern_unit.safetensors", "mednext_small_k3.safetensors", "mednext_small_k5_upkern.safetensors"]:
        shutil.copyfile(SHARED / name, OUT / name)
    meta = json.loads((SHARED / "fixtures_meta.json").read_text())
    keep = {
        "source": "../shared/fixtures/mednext/fixtures_meta.json (MIC-DKFZ/MedNeXt @ 0b78ed8, torch "
        + meta["torch"]
        + ")",
        "config": meta["config"],
        "upkern_interpolated_keys": meta["upkern_interpolated_keys"],
    }
    (OUT / "upkern_meta.json").write_text(json.dumps(keep, indent=1) + "\n")
    # The source model's constructor arguments (kernel 3), for the `upkern --config ... --kernel 5` example test.
    (OUT / "mednext_small_k3_config.json").write_text(json.dumps(meta["config"], indent=1) + "\n")


def resize_cases():
    g = torch.Generator().manual_seed(11)
    cases = OrderedDict()

    def add(name, shape, size, mode):
        w = torch.randn(*shape, generator=g, dtype=torch.float32)
        cases[f"{name}.in"] = w
        cases[f"{name}.out"] = F.interpolate(w, size=size, mode=mode, align_corners=False).contiguous()

    add("k3_to_k7", (3, 1, 3, 3, 3), (7, 7, 7), "trilinear")
    add("k5_to_k7", (2, 1, 5, 5, 5), (7, 7, 7), "trilinear")
    add("k7_to_k5", (2, 1, 7, 7, 7), (5, 5, 5), "trilinear")
    add("aniso", (2, 3, 3, 3, 3), (3, 5, 7), "trilinear")
    add("k3_to_k5_2d", (4, 2, 3, 3), (5, 5), "bilinear")
    save_file(dict(cases), str(OUT / "resize_cases.safetensors"), metadata={"torch": torch.__version__})


def tiny_state_dict():
    g = torch.Generator().manual_seed(5)
    return OrderedDict(
        [
            ("dummy_tensor", torch.ones(1)),
            ("stem.weight", torch.randn(4, 3, 1, 1, 1, generator=g)),
            ("stem.bias", torch.randn(4, generator=g)),
            ("enc_block_0.0.conv1.weight", torch.randn(4, 1, 3, 3, 3, generator=g)),
            ("enc_block_0.0.conv1.bias", torch.randn(4, generator=g)),
            ("enc_block_0.0.norm.weight", torch.randn(4, generator=g)),
            ("bn.num_batches_tracked", torch.tensor(7, dtype=torch.int64)),
            ("head.weight_f64", torch.randn(2, 3, generator=g, dtype=torch.float64)),
        ]
    )


def checkpoints():
    ck = OUT / "ckpt"
    ck.mkdir(parents=True, exist_ok=True)
    sd = tiny_state_dict()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(ck / "expected.safetensors"))
    torch.save(sd, ck / "plain.pth")

    params = [torch.nn.Parameter(v.clone()) for k, v in sd.items() if v.is_floating_point()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    loss = sum((p.float() ** 2).sum() for p in params)
    loss.backward()
    opt.step()
    v1 = {
        "epoch": 3,
        "state_dict": sd,
        "optimizer_state_dict": opt.state_dict(),
        "amp_grad_scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 11},
        "lr_scheduler_state_dict": None,
        "plot_stuff": ([0.9, 0.8], [1.0, 0.7], [0.1, 0.2], [0.3, 0.4]),
        "best_stuff": (2, 0.5, 0.6, 1),
        "plans": {"num_stages": 1, "plans_per_stage": {0: {"patch_size": np.array([128, 128, 128])}}},
    }
    torch.save(v1, ck / "v1.model")

    v2 = {
        "network_weights": OrderedDict(("_orig_mod." + k, v) for k, v in sd.items()),
        "optimizer_state": opt.state_dict(),
        "grad_scaler_state": None,
        "logging": {"mean_fg_dice": [np.float64(0.5), np.float32(0.6)], "epoch_end_timestamps": [1.5]},
        "_best_ema": np.float64(0.55),
        "current_epoch": 5,
        "init_args": {"plans": {"name": "p"}, "configuration": "3d_fullres", "fold": 0, "device": torch.device("cpu")},
        "trainer_name": "nnUNetTrainer",
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }
    torch.save(v2, ck / "v2.pth")
    torch.save(OrderedDict(("module." + k, v) for k, v in sd.items()), ck / "ddp.pth")

    torch.save({"model": sd, "epoch": 1}, ck / "nested_only.pth")
    torch.save(sd, ck / "legacy.pth", _use_new_zipfile_serialization=False)
    data = (ck / "plain.pth").read_bytes()
    (ck / "truncated.pth").write_bytes(data[: len(data) // 2])
    (ck / "not_a_checkpoint.txt").write_text("this is not a checkpoint\n")


def main():
    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    copy_shared()
    resize_cases()
    checkpoints()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

"""Golden values for the training primitives of `mednext::train` (losses, deep supervision, optimisers,
schedules, gradient clipping).

Writes crates/mednext/tests/data/train/ (read by crates/mednext/tests/train_loss.rs and train_optim.rs).
Re-run with

    .venv/bin/python tools/golden/make_train_fixtures.py

Reference functions (PyTorch CPU, float32, 2 threads), each called as the trainers call it:
  * nnU-Net v2.8.1 `nnUNetTrainer._build_loss` (run on a stub trainer: no regions, no ignore label, no DDP,
    no compile, deep supervision on, 6-stage isotropic pool ops -> 5 outputs): `DeepSupervisionWrapper(
    DC_and_CE_loss({batch_dice, smooth 1e-5, do_bg False}, {}, 1, 1, MemoryEfficientSoftDiceLoss), weights)`;
    batch_dice True and False; the loss, its per-output terms, the CE and Dice parts on out_0 and the
    gradients d loss / d out_i.
  * MONAI `FocalLoss(to_onehot_y=True, use_softmax=True, gamma, alpha)` (include_background True, mean);
    the combination `focal + 0.75 * DC_and_CE_loss(smooth 1e-4)` of the seed's `nnUNetTrainerV2_SegLoss_Focal`
    (with MONAI's focal term, since the seed never defines its own), alone and deep-supervised.
  * nnU-Net v1.7.1 `nnUNetTrainerV2.initialize` (stub plans, network and data) for the deep-supervision
    weights of 5 and 6 pool ops (`ds_loss_weights`).
  * torch.optim.AdamW (MedNeXt: lr 1e-3, betas 0.9/0.999, eps 1e-4, wd 3e-5; and a large-lr/wd variant) and
    torch.optim.SGD (nnU-Net v2: lr 1e-2, momentum 0.99, nesterov, wd 3e-5; and plain momentum), 5 steps on
    fixed parameters with fixed per-step gradients (one parameter without a gradient at step 2; the lr
    changed before step 4).
  * torch.nn.utils.clip_grad_norm_(params, 12) on fixed gradients (one set above 12, one below).
  * nnU-Net v1 `poly_lr`, v2 `PolyLRScheduler`, torch `CosineAnnealingLR`.

Files: `ds_<case>.safetensors` (logits, targets, gradients; f32), `optim.safetensors`, `clip.safetensors`,
`golden.json` (scalar values). Logits are N(0, 2) noise; targets are label maps stored as float (B, 1, ...)
like nnU-Net's, downsampled by striding ([::2^i], cropped to the output's size). Full resolution is (8, 12, 16) (anisotropic on purpose, to
catch axis mix-ups); the outputs are max(size // 2^i, 1) per axis.
"""
import json
import os
import tempfile
import types

import numpy as np
import torch
from monai.losses import FocalLoss
from safetensors.torch import save_file

from nnunetv2.training.loss.compound_losses import DC_and_CE_loss
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from nnunetv2.training.loss.dice import MemoryEfficientSoftDiceLoss
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "mednext", "tests", "data", "train")
N_OUT = 5


def v2_loss(batch_dice):
    """nnU-Net v2's own `_build_loss` on a stub trainer (6-stage isotropic plan -> 5 DS outputs)."""
    stub = types.SimpleNamespace(
        label_manager=types.SimpleNamespace(has_regions=False, ignore_label=None),
        configuration_manager=types.SimpleNamespace(batch_dice=batch_dice,
                                                    pool_op_kernel_sizes=[[1, 1, 1]] + [[2, 2, 2]] * 5),
        is_ddp=False, enable_deep_supervision=True, _do_i_compile=lambda: False)
    stub._get_deep_supervision_scales = types.MethodType(nnUNetTrainer._get_deep_supervision_scales, stub)
    loss = nnUNetTrainer._build_loss(stub)
    assert isinstance(loss, DeepSupervisionWrapper)
    return loss


def v1_weights(numpool):
    """`ds_loss_weights` from nnU-Net v1's `nnUNetTrainerV2.initialize` with stubbed plans/network/data."""
    from nnunet.network_architecture.neural_network import SegmentationNetwork
    from nnunet.training.network_training.nnUNetTrainerV2 import nnUNetTrainerV2

    class Stub(nnUNetTrainerV2):
        def process_plans(self, plans):
            self.net_num_pool_op_kernel_sizes = [[2, 2, 2]] * numpool

        def setup_DA_params(self):
            self.deep_supervision_scales = None

        def initialize_network(self):
            self.network = SegmentationNetwork()

        def initialize_optimizer_and_scheduler(self):
            pass

    with tempfile.TemporaryDirectory() as tmp:
        tr = Stub(os.path.join(tmp, "plans.pkl"), 0, output_folder=tmp, dataset_directory=tmp, stage=0)
        tr.plans = {"data_identifier": "stub"}
        tr.initialize(training=False)
        return [float(w) for w in tr.ds_loss_weights]


def make_case(gen, b, k, size, absent):
    """DS logits and strided targets; `absent` = (sample, class) removed from that sample's labels."""
    logits = [torch.randn(b, k, *(max(s // 2 ** i, 1) for s in size), generator=gen) * 2 for i in range(N_OUT)]
    # labels: smooth random field -> classes, so every class forms blobs
    field = torch.randn(b, k, *size, generator=gen)
    for _ in range(3):
        field = torch.nn.functional.avg_pool3d(field, 3, stride=1, padding=1)
    seg = field.argmax(1, keepdim=True).float()
    if absent is not None:
        s, c = absent
        seg[s][seg[s] == c] = 0
    targets = []
    for i, x in enumerate(logits):
        nz, ny, nx = x.shape[2:]
        targets.append(seg[:, :, ::2 ** i, ::2 ** i, ::2 ** i][:, :, :nz, :ny, :nx].contiguous())
    return logits, targets


def ds_values(loss, logits, targets):
    """Total DS loss, per-output inner losses and the gradients wrt every output."""
    xs = [x.clone().requires_grad_(True) for x in logits]
    total = loss(xs, targets)
    total.backward()
    terms = [float(loss.loss(x.detach(), t)) for x, t in zip(logits, targets)]
    grads = [x.grad if x.grad is not None else torch.zeros_like(x) for x in xs]
    return float(total), terms, grads


def value_and_grad(fn, x):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    y.backward()
    return float(y), x.grad


def losses(gen, golden):
    cases = {"k2": (2, 2, (8, 12, 16), None), "k3": (2, 3, (8, 12, 16), (0, 2))}
    for name, (b, k, size, absent) in cases.items():
        logits, targets = make_case(gen, b, k, size, absent)
        tensors = {f"out_{i}": x for i, x in enumerate(logits)}
        tensors.update({f"target_{i}": t for i, t in enumerate(targets)})
        entry = {"batch": b, "classes": k, "absent": absent}
        for bd in (True, False):
            tag = "batch" if bd else "sample"
            wrapper = v2_loss(bd)
            entry["weights"] = list(map(float, wrapper.weight_factors))
            total, terms, grads = ds_values(wrapper, logits, targets)
            dcce = wrapper.loss
            entry[f"dice_ce_{tag}"] = {
                "ds_loss": total, "per_output": terms,
                "ce_out0": float(dcce.ce(logits[0], targets[0][:, 0])),
                "dice_out0": float(dcce.dc(logits[0], targets[0])),
            }
            for i, g in enumerate(grads):
                tensors[f"grad_dice_ce_{tag}_{i}"] = g
            # the seed's focal combination: focal + 0.75 * DC_and_CE(smooth 1e-4)
            dc_ce_s4 = DC_and_CE_loss({"batch_dice": bd, "smooth": 1e-4, "do_bg": False, "ddp": False}, {},
                                      weight_ce=1, weight_dice=1, dice_class=MemoryEfficientSoftDiceLoss)
            fl75 = FocalLoss(to_onehot_y=True, use_softmax=True, gamma=2.0, alpha=0.75)
            combo = lambda x, y: fl75(x, y) + 0.75 * dc_ce_s4(x, y)  # noqa: E731
            v, g = value_and_grad(lambda x: combo(x, targets[0]), logits[0])
            ds_combo, _, _ = ds_values(DeepSupervisionWrapper(combo, wrapper.weight_factors), logits, targets)
            entry[f"focal_combo_{tag}"] = {"out0": v, "ds_loss": ds_combo}
            tensors[f"grad_focal_combo_{tag}_0"] = g
        for fname, gamma, alpha in [("focal_g2", 2.0, None), ("focal_g2_a075", 2.0, 0.75), ("focal_g1.5_a025", 1.5, 0.25)]:
            fl = FocalLoss(to_onehot_y=True, use_softmax=True, gamma=gamma, alpha=alpha)
            v, g = value_and_grad(lambda x: fl(x, targets[0]), logits[0])
            entry[fname] = {"gamma": gamma, "alpha": alpha, "out0": v}
            tensors[f"grad_{fname}_0"] = g
        golden[f"ds_{name}"] = entry
        tensors = {n: t.contiguous().float() for n, t in tensors.items()}
        path = os.path.join(OUT, f"ds_{name}.safetensors")
        save_file(tensors, path)
        print(f"ds_{name}: {os.path.getsize(path)} bytes")


def optimisers(gen, golden):
    shapes = {"enc.weight": (4, 3), "enc.bias": (5,), "conv.weight": (2, 1, 3, 3, 3)}
    init = {n: torch.randn(*s, generator=gen) for n, s in shapes.items()}
    steps = 5
    grads = [{n: torch.randn(*s, generator=gen) * 0.5 for n, s in shapes.items()} for _ in range(steps)]
    tensors = {f"init.{n}": t for n, t in init.items()}
    for s, gs in enumerate(grads):
        for n, g in gs.items():
            tensors[f"grad{s}.{n}"] = g
    configs = {
        "adamw_mednext": (torch.optim.AdamW, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-4, weight_decay=3e-5)),
        "adamw_large": (torch.optim.AdamW, dict(lr=5e-2, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1)),
        "sgd_nnunet": (torch.optim.SGD, dict(lr=1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)),
        "sgd_momentum": (torch.optim.SGD, dict(lr=1e-1, momentum=0.9, nesterov=False, weight_decay=1e-2)),
    }
    meta = {"steps": steps, "skip": {"step": 1, "param": "enc.bias"}, "lr_change": {"step": 3, "factor": 0.5},
            "names": list(shapes)}
    for cname, (cls, kw) in configs.items():
        params = {n: torch.nn.Parameter(t.clone()) for n, t in init.items()}
        opt = cls(list(params.values()), **kw)
        for s in range(steps):
            if s == meta["lr_change"]["step"]:
                for grp in opt.param_groups:
                    grp["lr"] = kw["lr"] * meta["lr_change"]["factor"]
            for n, p in params.items():
                p.grad = None if (s == meta["skip"]["step"] and n == meta["skip"]["param"]) else grads[s][n].clone()
            opt.step()
            for n, p in params.items():
                tensors[f"{cname}.after{s}.{n}"] = p.detach().clone()
        for n, p in params.items():
            for key, val in opt.state[p].items():
                if torch.is_tensor(val) and val.ndim > 0:
                    tensors[f"{cname}.state.{n}.{key}"] = val.clone()
                else:
                    meta.setdefault(f"{cname}_state_step", {})[n] = float(val)
        kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}
        meta[cname] = kw
    golden["optim"] = meta
    save_file({n: t.contiguous().float() for n, t in tensors.items()}, os.path.join(OUT, "optim.safetensors"))


def clipping(gen, golden):
    shapes = {"a": (3, 4), "b": (7,), "c": (2, 2, 3, 3, 3)}
    tensors, meta = {}, {}
    for case, scale in [("above", 3.0), ("below", 0.3)]:
        params = {n: torch.nn.Parameter(torch.zeros(*s)) for n, s in shapes.items()}
        for n, p in params.items():
            p.grad = torch.randn(*shapes[n], generator=gen) * scale
            tensors[f"{case}.grad.{n}"] = p.grad.clone()
        total = torch.nn.utils.clip_grad_norm_(list(params.values()), 12.0)
        for n, p in params.items():
            tensors[f"{case}.clipped.{n}"] = p.grad.clone()
        meta[case] = {"total_norm": float(total), "max_norm": 12.0}
    golden["clip"] = meta
    save_file({n: t.contiguous().float() for n, t in tensors.items()}, os.path.join(OUT, "clip.safetensors"))


def schedules(golden):
    from nnunet.training.learning_rate.poly_lr import poly_lr

    v1 = [poly_lr(e, 250, 1e-3, 0.9) for e in range(250)]
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1e-2)
    sched = PolyLRScheduler(opt, 1e-2, 1000)
    v2 = []
    for epoch in range(1000):
        sched.step(epoch)  # nnUNetTrainer.on_train_epoch_start: self.lr_scheduler.step(self.current_epoch)
        v2.append(opt.param_groups[0]["lr"])
    opt = torch.optim.SGD([p], lr=1e-3)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=1e-5)
    c = []
    for _ in range(21):
        c.append(opt.param_groups[0]["lr"])
        opt.step()
        cos.step()
    golden["schedule"] = {
        "poly_v1": {"initial": 1e-3, "max_epochs": 250, "lr": v1},
        "poly_v2": {"initial": 1e-2, "max_epochs": 1000, "lr": v2},
        "cosine": {"initial": 1e-3, "max_epochs": 20, "min_lr": 1e-5, "lr": c},
    }


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20250806)
    golden = {"ds_weights_v1": {"5": v1_weights(5), "6": v1_weights(6)}}
    losses(gen, golden)
    optimisers(gen, golden)
    clipping(gen, golden)
    schedules(golden)
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
    print("ds weights v1:", golden["ds_weights_v1"])
    print("ds weights v2:", golden["ds_k2"]["weights"])


if __name__ == "__main__":
    main()

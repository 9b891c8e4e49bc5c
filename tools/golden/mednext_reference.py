"""A small PyTorch MedNeXt v1 written from ``reference/mednext.md`` §2–7 (not copied from upstream).

Used by ``benches/compare_mednext.py`` as the PyTorch side of the side-by-side timing. It mirrors the
original implementation (MIC-DKFZ/MedNeXt @ 0b78ed8, ``nnunet_mednext/network_architecture/mednextv1/``;
Roy et al., MICCAI 2023) closely enough to load its state dicts strictly (same module names, same shapes)
and to reproduce its outputs; ``check_against_fixtures`` verifies that on the shared parity fixtures
(``../shared/fixtures/mednext/mednext_small_k{3,5}*.safetensors``, gate atol = rtol = 1e-4) before any
timing. Checkpointing (``checkpoint_style='outside_block'``) wraps every block, down/up block and head in
``torch.utils.checkpoint`` (reentrant), as the M and L presets do.

Run ``.venv/bin/python tools/golden/mednext_reference.py`` to check it against the fixtures.
"""

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

B_EXP = [2, 3, 4, 4, 4, 4, 4, 3, 2]
L_EXP = [3, 4, 8, 8, 8, 8, 8, 4, 3]
PRESETS = {
    "S": dict(exp_r=2, block_counts=[2] * 9, checkpoint_style=None),
    "B": dict(exp_r=B_EXP, block_counts=[2] * 9, checkpoint_style=None),
    "M": dict(exp_r=B_EXP, block_counts=[3, 4, 4, 4, 4, 4, 4, 4, 3], checkpoint_style="outside_block"),
    "L": dict(exp_r=L_EXP, block_counts=L_EXP, checkpoint_style="outside_block"),
}


class Block(nn.Module):
    """depthwise conv (k) -> GroupNorm(C, C) -> 1x1 expand -> GELU(erf) -> 1x1 compress (+ x if do_res)."""

    def __init__(self, c_in, c_out, exp_r, k, do_res, stride=1, transposed=False):
        super().__init__()
        conv = nn.ConvTranspose3d if transposed else nn.Conv3d
        self.do_res = do_res
        self.conv1 = conv(c_in, c_in, k, stride=stride, padding=k // 2, groups=c_in)
        self.norm = nn.GroupNorm(c_in, c_in)
        self.conv2 = nn.Conv3d(c_in, exp_r * c_in, 1)
        self.act = nn.GELU()
        self.conv3 = nn.Conv3d(exp_r * c_in, c_out, 1)

    def body(self, x):
        return self.conv3(self.act(self.conv2(self.norm(self.conv1(x)))))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.do_res else y


class Down(Block):
    """Stride-2 block C -> 2C; residual: 1x1 stride-2 conv of the input."""

    def __init__(self, c_in, exp_r, k, do_res):
        super().__init__(c_in, 2 * c_in, exp_r, k, do_res=False, stride=2)
        self.resample_res = do_res
        if do_res:
            self.res_conv = nn.Conv3d(c_in, 2 * c_in, 1, stride=2)

    def forward(self, x):
        y = self.body(x)
        return y + self.res_conv(x) if self.resample_res else y


class Up(Block):
    """Stride-2 transposed depthwise block C -> C/2 on (2D-1)^3, then one zero plane prepended per axis."""

    def __init__(self, c_in, exp_r, k, do_res):
        super().__init__(c_in, c_in // 2, exp_r, k, do_res=False, stride=2, transposed=True)
        self.resample_res = do_res
        if do_res:
            self.res_conv = nn.ConvTranspose3d(c_in, c_in // 2, 1, stride=2)

    def forward(self, x):
        y = F.pad(self.body(x), (1, 0, 1, 0, 1, 0))
        if self.resample_res:
            y = y + F.pad(self.res_conv(x), (1, 0, 1, 0, 1, 0))
        return y


class Out(nn.Module):
    def __init__(self, c_in, n_classes):
        super().__init__()
        self.conv_out = nn.ConvTranspose3d(c_in, n_classes, 1)

    def forward(self, x):
        return self.conv_out(x)


class MedNeXt(nn.Module):
    def __init__(self, in_channels, n_channels, n_classes, exp_r=4, kernel_size=7, deep_supervision=False,
                 do_res=False, do_res_up_down=False, checkpoint_style=None, block_counts=(2,) * 9, **_ignored):
        super().__init__()
        r = [exp_r] * 9 if isinstance(exp_r, int) else list(exp_r)
        k, c, bc = kernel_size, n_channels, list(block_counts)
        self.ds = deep_supervision
        self.ckpt = checkpoint_style == "outside_block"
        self.dummy_tensor = nn.Parameter(torch.tensor([1.0]), requires_grad=True)
        self.stem = nn.Conv3d(in_channels, c, 1)
        for s in range(4):
            cs = c * 2**s
            setattr(self, f"enc_block_{s}", nn.Sequential(*[Block(cs, cs, r[s], k, do_res) for _ in range(bc[s])]))
            setattr(self, f"down_{s}", Down(cs, r[s + 1], k, do_res_up_down))
        self.bottleneck = nn.Sequential(*[Block(16 * c, 16 * c, r[4], k, do_res) for _ in range(bc[4])])
        for s in (3, 2, 1, 0):
            cs = c * 2**s
            setattr(self, f"up_{s}", Up(2 * cs, r[8 - s], k, do_res_up_down))
            setattr(self, f"dec_block_{s}", nn.Sequential(*[Block(cs, cs, r[8 - s], k, do_res) for _ in range(bc[8 - s])]))
        self.out_0 = Out(c, n_classes)
        if deep_supervision:
            for i in range(1, 5):
                setattr(self, f"out_{i}", Out(c * 2**i, n_classes))

    def _run(self, m, x):
        if self.ckpt and torch.is_grad_enabled():
            # Reentrant checkpointing needs an input that requires grad: the original's `dummy_tensor` trick.
            return torch.utils.checkpoint.checkpoint(lambda a, _d: m(a), x, self.dummy_tensor, use_reentrant=True)
        return m(x)

    def _seq(self, seq, x):
        for m in seq:
            x = self._run(m, x)
        return x

    def forward(self, x):
        x = self.stem(x)
        skips = []
        for s in range(4):
            x = self._seq(getattr(self, f"enc_block_{s}"), x)
            skips.append(x)
            x = self._run(getattr(self, f"down_{s}"), x)
        x = self._seq(self.bottleneck, x)
        outs = [self._run(self.out_4, x)] if self.ds else []
        for s in (3, 2, 1, 0):
            x = skips[s] + self._run(getattr(self, f"up_{s}"), x)
            x = self._seq(getattr(self, f"dec_block_{s}"), x)
            if self.ds and s > 0:
                outs.append(self._run(getattr(self, f"out_{s}"), x))
        out0 = self._run(self.out_0, x)
        return [out0] + outs[::-1] if self.ds else out0


def preset(name, in_channels, n_classes, kernel_size, deep_supervision=False, checkpointing=None):
    kw = dict(PRESETS[name])
    if checkpointing is not None:
        kw["checkpoint_style"] = "outside_block" if checkpointing else None
    return MedNeXt(in_channels, 32, n_classes, kernel_size=kernel_size, deep_supervision=deep_supervision,
                   do_res=True, do_res_up_down=True, **kw)


def check_against_fixtures(fixtures=None, atol=1e-4, rtol=1e-4):
    """Loads the small k3 and k5 fixture models strictly and compares all five outputs; returns max |diff|."""
    from safetensors.torch import load_file

    fixtures = Path(fixtures or Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "mednext")
    cfg = dict(in_channels=3, n_channels=8, n_classes=2, exp_r=2, deep_supervision=True, do_res=True,
               do_res_up_down=True, block_counts=[1] * 9)
    worst = 0.0
    for k, weights, io in [(3, "mednext_small_k3.safetensors", "mednext_small_k3_io.safetensors"),
                           (5, "mednext_small_k5_upkern.safetensors", "mednext_small_k5_upkern_io.safetensors")]:
        net = MedNeXt(kernel_size=k, **cfg).eval()
        net.load_state_dict(load_file(str(fixtures / weights)), strict=True)
        ref = load_file(str(fixtures / io))
        with torch.no_grad():
            outs = net(ref["input"])
        for i, o in enumerate(outs):
            torch.testing.assert_close(o, ref[f"output.{i}"], atol=atol, rtol=rtol)
            worst = max(worst, (o - ref[f"output.{i}"]).abs().max().item())
    return worst


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(f"reference MedNeXt vs original fixtures: max |diff| = {check_against_fixtures():.3e}")
    for name, nin in [("M", 3)]:
        for k in (3, 5):
            n = sum(p.numel() for p in preset(name, nin, 2, k, deep_supervision=True).parameters())
            print(f"{name} k{k} in {nin} nc 2 DS: {n:,} parameters")

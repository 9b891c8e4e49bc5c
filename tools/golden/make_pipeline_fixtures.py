"""Golden fixtures for the nnunet-preproc data pipeline and sliding-window inference.

Re-run:  /work/main/.venv/bin/python tools/golden/make_pipeline_fixtures.py
Writes:  crates/nnunet-preproc/tests/data/pipeline/*.npy + manifest.json (small; < 1 MB in total)

References executed (installed in the venv): nnunetv2 2.8.1 (`nnUNetPredictor.predict_sliding_window_return_logits`,
`compute_gaussian`, `compute_steps_for_sliding_window`), nnunet 1.7.1 (`SegmentationNetwork.predict_3D`,
the v1 / MedNeXt sliding window), scipy `gaussian_filter` / `map_coordinates`, skimage `label`,
batchgenerators 0.25 / batchgeneratorsv2 0.3 augmentations with fixed parameters.
"""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "nnunet-preproc", "tests", "data", "pipeline")
os.makedirs(OUT, exist_ok=True)
manifest = {}


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr))
    return name + ".npy"


# --------------------------------------------------------------------------------------------------------------
# Sliding window
# --------------------------------------------------------------------------------------------------------------
class ToyNet(torch.nn.Module):
    """Position-dependent within the tile so that tiling and mirroring matter:
    out[k] = x[k % C]·(1 + k/2) + 0.01·z − 0.02·y + 0.005·k·x   (z, y, x: indices inside the tile)."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        b, c, pz, py, px = x.shape
        z = torch.arange(pz, dtype=torch.float32).view(1, pz, 1, 1)
        y = torch.arange(py, dtype=torch.float32).view(1, 1, py, 1)
        xx = torch.arange(px, dtype=torch.float32).view(1, 1, 1, px)
        outs = []
        for k in range(self.k):
            outs.append(x[:, k % c] * (1 + 0.5 * k) + 0.01 * z - 0.02 * y + 0.005 * k * xx)
        return torch.stack(outs, 1)


def v2_sliding(data, patch, k, mirror):
    import nnunetv2.inference.predict_from_raw_data as P
    from nnunetv2.inference.sliding_window_prediction import compute_gaussian

    predictor = P.nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=mirror,
                                  perform_everything_on_device=False, device=torch.device("cpu"),
                                  verbose=False, allow_tqdm=False)
    predictor.network = ToyNet(k)
    predictor.configuration_manager = SimpleNamespace(patch_size=list(patch))
    predictor.label_manager = SimpleNamespace(num_segmentation_heads=k)
    predictor.allowed_mirroring_axes = (0, 1, 2)
    # nnU-Net hard-codes fp16 accumulators and an fp16 Gaussian; run its own loop in float32.
    orig_half, orig_gauss = torch.half, P.compute_gaussian
    torch.half = torch.float32
    P.compute_gaussian = lambda *a, **kw: orig_gauss(*a, **{**kw, "dtype": torch.float32})
    try:
        with torch.no_grad():
            out = predictor.predict_sliding_window_return_logits(torch.from_numpy(data))
    finally:
        torch.half, P.compute_gaussian = orig_half, orig_gauss
    return out.numpy().astype(np.float32)


def v1_sliding(data, patch, k, mirror):
    from nnunet.network_architecture.neural_network import SegmentationNetwork

    class V1Net(SegmentationNetwork):
        def __init__(self):
            super().__init__()
            self.conv_op = torch.nn.Conv3d
            self.num_classes = k
            self.inference_apply_nonlin = lambda x: torch.softmax(x, 1)
            self.toy = ToyNet(k)

        def forward(self, x):
            return self.toy(x)

    net = V1Net().eval()
    with torch.no_grad():
        _, probs = net.predict_3D(data, do_mirroring=mirror, mirror_axes=(0, 1, 2), use_sliding_window=True,
                                  step_size=0.5, patch_size=tuple(patch), use_gaussian=True, all_in_gpu=False,
                                  verbose=False, mixed_precision=False)
    return probs.astype(np.float32)


def sliding_fixtures():
    from nnunetv2.inference.sliding_window_prediction import compute_gaussian, compute_steps_for_sliding_window

    rng = np.random.default_rng(7)
    cases = []
    for name, shape, patch in [("a", (2, 13, 21, 18), (8, 12, 10)), ("b", (2, 5, 21, 7), (8, 12, 10))]:
        data = rng.normal(size=shape).astype(np.float32)
        inp = save(f"sw_{name}_input", data)
        for flavour, mirror, fn in [("v2", True, v2_sliding), ("v2", False, v2_sliding), ("v1", True, v1_sliding)]:
            out = fn(data, patch, 3, mirror)
            tag = f"sw_{name}_{flavour}_{'tta' if mirror else 'notta'}"
            cases.append({"input": inp, "patch": list(patch), "classes": 3, "flavour": flavour, "mirror": mirror,
                          "output": save(tag, out)})
    manifest["sliding_window"] = cases
    # Gaussian maps (float32 for comparison; nnU-Net v2 itself casts to fp16).
    g = []
    for patch, scale in [((8, 12, 10), 10), ((16, 9, 5), 1)]:
        m = compute_gaussian(patch, 1. / 8, scale, dtype=torch.float32, device=torch.device("cpu")).numpy()
        g.append({"patch": list(patch), "peak": scale, "output": save(f"gauss_{'x'.join(map(str, patch))}", m)})
    manifest["gaussian"] = g
    steps = []
    for size, patch in [(110, 64), (256, 128), (160, 128), (176, 96), (352, 160), (128, 128), (129, 128),
                        (300, 96), (57, 13), (1000, 7)]:
        steps.append({"size": size, "patch": patch, "steps": [int(s) for s in
                                                              compute_steps_for_sliding_window((size,), (patch,), 0.5)[0]]})
    manifest["steps"] = steps


# --------------------------------------------------------------------------------------------------------------
# Post-processing: connected components
# --------------------------------------------------------------------------------------------------------------
def postprocess_fixtures():
    from scipy import ndimage
    from skimage.measure import label
    from nnunetv2.postprocessing.remove_connected_components import \
        remove_all_but_largest_component_from_segmentation

    rng = np.random.default_rng(11)
    cases = []
    for i, (shape, thr) in enumerate([((14, 17, 19), 0.62), ((9, 30, 25), 0.58), ((20, 12, 16), 0.66)]):
        noise = ndimage.gaussian_filter(rng.normal(size=shape), 1.0)
        noise = (noise - noise.min()) / (noise.max() - noise.min())
        seg = np.zeros(shape, np.uint8)
        seg[noise > thr] = 1
        seg[(noise > thr + 0.08)] = 2
        full = label(seg > 0, connectivity=None)
        face, _ = ndimage.label(seg > 0)
        lcc = remove_all_but_largest_component_from_segmentation(seg, [1, 2], 0)
        cases.append({"seg": save(f"pp_{i}_seg", seg), "label_full": save(f"pp_{i}_label_full", full.astype(np.int32)),
                      "label_face": save(f"pp_{i}_label_face", face.astype(np.int32)),
                      "lcc": save(f"pp_{i}_lcc", lcc.astype(np.uint8)),
                      "n_full": int(full.max()), "n_face": int(face.max())})
    manifest["postprocess"] = cases


# --------------------------------------------------------------------------------------------------------------
# Augmentation with fixed parameters
# --------------------------------------------------------------------------------------------------------------
def affine(rot, scale):
    a, b, g = rot
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
    return rz @ ry @ rx * scale


def augment_fixtures():
    from scipy import ndimage
    from nnunetv2.training.data_augmentation.compute_initial_patch_size import get_patch_size

    rng = np.random.default_rng(3)
    out = {}
    # Blur: scipy gaussian_filter, reflect, truncate 4 (v1 augment_gaussian_blur).
    img = rng.normal(size=(9, 14, 11)).astype(np.float32)
    blur = []
    for sig in [(0.5, 0.5, 0.5), (1.0, 0.7, 0.55), (0.9, 0.9, 0.9)]:
        res = ndimage.gaussian_filter(img.astype(np.float64), sig, order=0, mode="reflect", truncate=4.0)
        blur.append({"sigma": list(sig), "output": save(f"blur_{len(blur)}", res.astype(np.float32))})
    out["blur"] = {"input": save("blur_input", img), "cases": blur}
    # Spatial, v1 data interpolation: scipy map_coordinates(order 3, constant 0) at
    # src = (S-1)/2 + A (o - (P-1)/2).
    vol = ndimage.gaussian_filter(rng.normal(size=(17, 19, 15)), 1.0).astype(np.float32)
    patch = (10, 12, 9)
    sp = []
    for rot, sc in [((0.3, -0.2, 0.1), 1.0), ((0.0, 0.0, 0.0), 1.25), ((-0.5, 0.4, 0.45), 0.8)]:
        A = affine(rot, sc)
        o = np.stack(np.meshgrid(*[np.arange(p) for p in patch], indexing="ij")).reshape(3, -1).astype(np.float64)
        d = o - ((np.array(patch) - 1) / 2)[:, None]
        src = ((np.array(vol.shape) - 1) / 2)[:, None] + A @ d
        res = ndimage.map_coordinates(vol.astype(np.float64), src, order=3, mode="constant", cval=0.0).reshape(patch)
        lin = ndimage.map_coordinates(vol.astype(np.float64), src, order=1, mode="constant", cval=0.0).reshape(patch)
        sp.append({"rotation": list(rot), "scale": sc, "cubic": save(f"spatial_{len(sp)}_cubic", res.astype(np.float32)),
                   "linear": save(f"spatial_{len(sp)}_linear", lin.astype(np.float32))})
    out["spatial"] = {"input": save("spatial_input", vol), "patch": list(patch), "cases": sp}
    # Deep-supervision downsampling: torch nearest-exact.
    seg = rng.integers(0, 3, size=(16, 20, 12)).astype(np.int16)
    ds = []
    for scale in [(0.5, 0.5, 0.5), (0.25, 0.25, 0.25), (1 / 3, 0.5, 0.7)]:
        shp = [int(round(s * f)) for s, f in zip(seg.shape, scale)]
        r = torch.nn.functional.interpolate(torch.from_numpy(seg).float()[None, None], size=shp, mode="nearest-exact")[0, 0]
        ds.append({"scale": list(scale), "output": save(f"ds_{len(ds)}", r.numpy().astype(np.int16))})
    out["ds"] = {"input": save("ds_input", seg), "cases": ds}
    a = 30 / 360 * 2 * np.pi
    out["loader_patch"] = [{"final": list(p), "loader": [int(v) for v in get_patch_size(p, (-a, a), (-a, a), (-a, a), (0.85, 1.25))]}
                           for p in [(96, 160, 160), (128, 128, 128), (64, 192, 160), (112, 112, 96)]]
    manifest["augment"] = out


SECTIONS = {"sliding": sliding_fixtures, "postprocess": postprocess_fixtures, "augment": augment_fixtures}

if __name__ == "__main__":
    which = sys.argv[1:] or list(SECTIONS)
    path = os.path.join(OUT, "manifest.json")
    if os.path.exists(path):
        manifest.update(json.load(open(path)))
    for w in which:
        SECTIONS[w]()
    json.dump(manifest, open(path, "w"), indent=1)
    print("wrote", OUT)

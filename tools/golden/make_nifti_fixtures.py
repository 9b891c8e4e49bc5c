"""Golden fixtures for NIfTI reading and writing (``nnunet-preproc`` test ``nifti_io.rs``).

Produces ``crates/nnunet-preproc/tests/data/nifti/``:

* ``<name>.nii`` / ``<name>.nii.gz``: small non-cubic volumes (NIfTI shape x=7, y=5, z=4 and similar) written by
  nibabel 5.4.2 (a few then patched byte-wise: NaN ``scl_slope``, ``pixdim[0] = 0``, negative pixdims, a
  non-finite ``scl_inter``), one written by SimpleITK 2.5.7;
* ``<name>.npy``: nibabel ``img.get_fdata()`` (float64) transposed to the array order ``(z, y, x)``;
* ``manifest.json``: for every file, what nibabel says (``img.affine`` = ``header.get_best_affine()``,
  ``header.get_zooms()``, stored shape and dtype, scl_slope/scl_inter) and what SimpleITK says
  (``GetSpacing``, ``GetOrigin``, ``GetDirection``, ``GetSize``), or the error the Rust reader must give;
* ``write_reference.json``: the header fields nibabel writes for the geometry the Rust writer test uses
  (``set_sform(affine, 1)`` + ``set_qform(affine, 1)``, pixdim, quaternion, qfac), for a float32 and a uint8 volume.

Re-run with ``.venv/bin/python tools/golden/make_nifti_fixtures.py`` from the repository root.

``.venv/bin/python tools/golden/make_nifti_fixtures.py --check DIR`` instead checks NIfTI files written by the Rust
writer: the test ``nifti_io.rs`` writes them into ``$NIFTI_WRITE_CHECK_DIR`` together with ``written.json`` (the
geometry and data it wrote); every file must reopen in nibabel and SimpleITK with that data, spacing, origin and
direction.
"""

import gzip
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

OUT = Path("crates/nnunet-preproc/tests/data/nifti")
SHAPE_XYZ = (7, 5, 4)


def rot(axis, angle_deg):
    """3x3 rotation about a unit axis (Rodrigues)."""
    a = np.asarray(axis, float)
    a /= np.linalg.norm(a)
    t = np.deg2rad(angle_deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)


def affine_of(r, zooms, offset):
    aff = np.eye(4)
    aff[:3, :3] = r @ np.diag(zooms)
    aff[:3, 3] = offset
    return aff


# Axis-aligned RAS affine with an x flip, the common scanner layout.
AFF_PLAIN = affine_of(np.diag([-1.0, 1.0, 1.0]), (0.7, 0.8, 2.5), (12.5, -30.25, 7.0))
# Oblique, right-handed rotation.
AFF_OBLIQUE = affine_of(rot((1, 2, 3), 25.0), (0.9, 1.1, 2.0), (-5.0, 10.0, 20.0))
# Left-handed (qfac -1): rotation then flip of the third axis.
AFF_LEFT = affine_of(rot((0.3, -1, 0.5), 40.0) @ np.diag([1.0, 1.0, -1.0]), (0.6, 0.75, 3.0), (1.0, 2.0, -3.0))


def ramp(shape, dtype, lo, step):
    n = int(np.prod(shape))
    return (lo + step * np.arange(n)).reshape(shape, order="F").astype(dtype)


def save_nib(name, data, affine, dtype=None, slope=None, inter=None, header=None, endian=None):
    hdr = header if header is not None else nib.Nifti1Header(endianness=endian)
    if dtype is not None:
        hdr.set_data_dtype(dtype)
    img = nib.Nifti1Image(data, affine, header=hdr)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    nib.save(img, str(OUT / name))
    return OUT / name


def patch(src, dst, edits):
    """Copy nibabel-written ``src`` to ``dst`` applying (offset, struct-format, value) edits to the raw bytes."""
    raw = src.read_bytes()
    if src.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    raw = bytearray(raw)
    for off, fmt, val in edits:
        raw[off : off + np.dtype(fmt).itemsize] = np.array([val], dtype=fmt).tobytes()
    raw = bytes(raw)
    if dst.name.endswith(".gz"):
        raw = gzip.compress(raw, mtime=0)
    dst.write_bytes(raw)
    return dst


def nib_facts(path):
    img = nib.load(str(path))
    h = img.header
    data = np.asarray(img.get_fdata(), dtype=np.float64)
    slope, inter = float(img.dataobj.slope), float(img.dataobj.inter)
    return img, {
        "nib_shape_xyz": [int(v) for v in img.shape],
        "nib_dtype": str(h.get_data_dtype().newbyteorder("=")),
        "nib_affine": img.affine.tolist(),
        "nib_zooms_xyz": [float(v) for v in h.get_zooms()[:3]],
        "nib_slope_inter": [slope, inter],
        "sform_code": int(h["sform_code"]),
        "qform_code": int(h["qform_code"]),
    }, data


def sitk_facts(path):
    try:
        im = sitk.ReadImage(str(path))
    except RuntimeError as e:
        return {"sitk_error": str(e).strip().splitlines()[-1][:200]}
    return {
        "sitk_size": list(im.GetSize()),
        "sitk_spacing": list(im.GetSpacing()),
        "sitk_origin": list(im.GetOrigin()),
        "sitk_direction": list(im.GetDirection()),
    }


def raw_vox_offset(path):
    """vox_offset as stored on disk (a loaded nibabel header reports 0)."""
    return float(np.frombuffer(path.read_bytes()[108:112], "<f4")[0])


def to_zyx(data):
    """nibabel (x, y, z[, 1...]) -> array order (z, y, x)."""
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    return np.ascontiguousarray(data.transpose(tuple(reversed(range(data.ndim)))))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    manifest = []

    def add(path, expect="ok", sitk_comparable=True, note="", **extra):
        entry = {"file": path.name, "expect": expect, "note": note, "sitk_comparable": sitk_comparable}
        entry.update(extra)
        if expect in ("ok", "non_finite"):
            img, facts, data = nib_facts(path)
            entry.update(facts)
            npy = path.name.replace(".nii.gz", "").replace(".nii", "").replace(".", "_") + ".npy"
            if path.name.endswith(".gz"):
                npy = npy.replace(".npy", "_gz.npy")
            np.save(OUT / npy, to_zyx(data))
            entry["data"] = npy
        entry.update(sitk_facts(path))
        manifest.append(entry)

    # --- every stored datatype; the main four as .nii and .nii.gz -------------------------------------------
    i16 = ramp(SHAPE_XYZ, np.int16, -300, 7)
    u8 = (ramp(SHAPE_XYZ, np.int64, 0, 1) % 4).astype(np.uint8)
    rng = np.random.default_rng(20240611)
    f32 = rng.normal(100.0, 50.0, SHAPE_XYZ).astype(np.float32)
    f64 = rng.normal(-3.0, 1e3, SHAPE_XYZ)
    for ext in (".nii", ".nii.gz"):
        add(save_nib("int16_scaled" + ext, i16, AFF_PLAIN, np.int16, 0.5, -1024.0))
        add(save_nib("uint8_labels" + ext, u8, AFF_PLAIN, np.uint8, 1.0, 0.0))
        add(save_nib("float32" + ext, f32, AFF_OBLIQUE, np.float32, 1.0, 0.0))
        add(save_nib("float64" + ext, f64, AFF_PLAIN, np.float64, 1.0, 0.0))
    others = {
        "int8": ramp(SHAPE_XYZ, np.int8, -100, 1),
        "uint16": ramp(SHAPE_XYZ, np.uint16, 60000, 37),
        "int32": ramp(SHAPE_XYZ, np.int32, -2_000_000, 12345),
        "uint32": ramp(SHAPE_XYZ, np.uint32, 4_000_000_000, 1_000_001),
        "int64": ramp(SHAPE_XYZ, np.int64, -(2**40), 3**20),
        "uint64": ramp(SHAPE_XYZ, np.uint64, 2**50, 7**15),
    }
    for name, arr in others.items():
        add(save_nib(name + ".nii", arr, AFF_PLAIN, arr.dtype, 1.0, 0.0))
    # float32 with scaling (slope applies to float data too) and a big-endian scaled int16
    add(save_nib("float32_scaled.nii", f32, AFF_PLAIN, np.float32, 2.0, 0.25))
    add(save_nib("int16_bigendian.nii.gz", i16, AFF_OBLIQUE, np.int16, 0.25, 3.0, endian=">"))

    # --- transforms ----------------------------------------------------------------------------------------
    # qform only (sform_code 0), rotation with qfac -1
    h = nib.Nifti1Header()
    h.set_data_dtype(np.int16)
    h.set_data_shape(SHAPE_XYZ)
    h.set_qform(AFF_LEFT, code=1)
    h.set_sform(None, code=0)
    img = nib.Nifti1Image(i16, None, header=h)
    img.header.set_slope_inter(1.0, 0.0)
    nib.save(img, str(OUT / "qform_only_qfac_neg.nii.gz"))
    add(OUT / "qform_only_qfac_neg.nii.gz")
    # oblique sform (code 2) plus a different qform (code 1): sform wins for nibabel
    h = nib.Nifti1Header()
    h.set_data_dtype(np.float32)
    h.set_data_shape(SHAPE_XYZ)
    h.set_qform(AFF_PLAIN, code=1)
    h.set_sform(AFF_OBLIQUE, code=2)
    img = nib.Nifti1Image(f32, None, header=h)
    nib.save(img, str(OUT / "sform_oblique.nii"))
    add(
        OUT / "sform_oblique.nii",
        sitk_comparable=False,
        note="qform and sform disagree; ITK prefers the qform here, nibabel (and we) the sform",
    )
    # neither sform nor qform: nibabel's base affine (x flipped, centred)
    h = nib.Nifti1Header()
    h.set_data_dtype(np.int16)
    h.set_data_shape(SHAPE_XYZ)
    h.set_zooms((0.7, 0.8, 2.5))
    h.set_qform(None, code=0)
    h.set_sform(None, code=0)
    img = nib.Nifti1Image(i16, None, header=h)
    nib.save(img, str(OUT / "no_xform.nii"))
    add(OUT / "no_xform.nii", sitk_comparable=False, note="no transform: ITK uses an identity direction at 0")

    # --- headers patched byte-wise -------------------------------------------------------------------------
    base_i16 = save_nib("_base_i16.nii", i16, AFF_PLAIN, np.int16, 0.5, -1024.0)
    add(patch(base_i16, OUT / "nan_slope.nii", [(112, "<f4", np.nan)]), note="NaN slope = no scaling")
    add(patch(base_i16, OUT / "zero_slope.nii.gz", [(112, "<f4", 0.0)]), note="zero slope = no scaling")
    # pixdim[0] = 0 on a qform-only header: qfac treated as +1 (nibabel's header fix)
    qonly = OUT / "qform_only_qfac_neg.nii.gz"
    add(patch(qonly, OUT / "pixdim0_zero.nii", [(76, "<f4", 0.0)]), note="invalid qfac -> +1")
    # negative pixdims on a sform header: spacing = abs; affine from sform
    add(
        patch(base_i16, OUT / "negative_pixdim.nii", [(80, "<f4", -0.7), (88, "<f4", -2.5)]),
        sitk_comparable=False,
        note="negative pixdim[1], pixdim[3] on an sform header: ITK divides the sform columns by the signed "
        "pixdims (direction flips x and z), nibabel (and we) take the sform as it is and abs(pixdim) as spacing",
    )
    # zero pixdim -> InvalidSpacing (nibabel would set 1)
    add(patch(base_i16, OUT / "zero_pixdim.nii", [(84, "<f4", 0.0)]), expect="invalid_spacing")
    # NaN voxels in float32
    f32_nan = f32.copy()
    f32_nan[1, 2, 3] = np.nan
    f32_nan[6, 0, 0] = np.inf
    f32_nan[0, 4, 1] = -np.inf
    add(save_nib("float32_nonfinite.nii.gz", f32_nan, AFF_PLAIN, np.float32, 1.0, 0.0), expect="non_finite", count=3)
    # label maps that are not integer labels
    add(save_nib("labels_fractional.nii", u8.astype(np.float32) + 0.5, AFF_PLAIN, np.float32, 1.0, 0.0))
    add(save_nib("labels_out_of_range.nii", (u8.astype(np.int32) * 20000), AFF_PLAIN, np.int32, 1.0, 0.0))
    # extension present: vox_offset > 352
    img = nib.Nifti1Image(i16, AFF_PLAIN, dtype=np.int16)
    img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"nnunet-preproc fixture" * 3))
    img.header.set_slope_inter(1.0, 0.0)
    nib.save(img, str(OUT / "with_extension.nii"))
    add(OUT / "with_extension.nii", vox_offset=raw_vox_offset(OUT / "with_extension.nii"))

    # --- dimensionality ------------------------------------------------------------------------------------
    add(save_nib("four_d_t1.nii.gz", i16[..., None], AFF_PLAIN, np.int16, 1.0, 0.0))
    add(save_nib("single_slice.nii", i16[..., :1], AFF_PLAIN, np.int16, 1.0, 0.0))
    add(
        save_nib("four_d_t3.nii", np.stack([i16] * 3, axis=-1), AFF_PLAIN, np.int16, 1.0, 0.0),
        expect="wrong_dimensionality",
        found=4,
    )
    add(
        save_nib("five_d.nii", i16[..., None, None].repeat(2, axis=4), AFF_PLAIN, np.int16, 1.0, 0.0),
        expect="wrong_dimensionality",
        found=5,
    )
    add(save_nib("two_d.nii", i16[:, :, 0], AFF_PLAIN, np.int16, 1.0, 0.0), expect="wrong_dimensionality", found=2)

    # --- written by SimpleITK (sform/qform code 1, qfac -1, xyzt_units 10) ----------------------------------
    im = sitk.GetImageFromArray(to_zyx(f32.astype(np.float64)).astype(np.float32))
    im.SetSpacing((0.6, 0.75, 3.0))
    im.SetOrigin((-1.0, -2.0, -3.0))
    d = np.diag([-1.0, -1.0, 1.0]) @ AFF_LEFT[:3, :3] / np.array([0.6, 0.75, 3.0])
    im.SetDirection(tuple(d.ravel()))
    sitk.WriteImage(im, str(OUT / "sitk_written.nii.gz"))
    add(OUT / "sitk_written.nii.gz")

    (OUT / "_base_i16.nii").unlink()
    manifest = [m for m in manifest if m["file"] != "_base_i16.nii"]
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, allow_nan=True) + "\n")
    write_reference()
    for m in manifest:
        print(m["file"], m["expect"], m.get("sitk_error", ""))


# The geometry the Rust writer test uses (array order spacing; affine = NIfTI voxel (i, j, k) -> RAS).
WRITE_SPACING_ZYX = (3.0, 0.75, 0.6)
WRITE_AFFINE = AFF_LEFT


def write_reference():
    """Header fields nibabel writes for WRITE_AFFINE with sform and qform code 1 (like SimpleITK's writer)."""
    ref = {"spacing_zyx": list(WRITE_SPACING_ZYX), "affine": WRITE_AFFINE.tolist(), "files": {}}
    for dtype, name in ((np.float32, "f32"), (np.uint8, "u8")):
        img = nib.Nifti1Image(np.zeros((5, 4, 3), dtype), WRITE_AFFINE, dtype=dtype)
        img.header.set_sform(WRITE_AFFINE, code=1)
        img.header.set_qform(WRITE_AFFINE, code=1)
        img.header.set_xyzt_units("mm")
        path = OUT / f"_ref_{name}.nii"
        nib.save(img, str(path))
        h = nib.load(str(path)).header
        ref["files"][name] = {
            "datatype": int(h["datatype"]),
            "bitpix": int(h["bitpix"]),
            "dim": [int(v) for v in h["dim"]],
            "pixdim": [float(v) for v in h["pixdim"][:4]],
            "quatern": [float(h[k]) for k in ("quatern_b", "quatern_c", "quatern_d")],
            "qoffset": [float(h[k]) for k in ("qoffset_x", "qoffset_y", "qoffset_z")],
            "srow": [[float(v) for v in h[k]] for k in ("srow_x", "srow_y", "srow_z")],
            "sform_code": int(h["sform_code"]),
            "qform_code": int(h["qform_code"]),
            "xyzt_units": int(h["xyzt_units"]),
            "vox_offset": raw_vox_offset(path),
            "qform_affine": h.get_qform().tolist(),
        }
        path.unlink()
    (OUT / "write_reference.json").write_text(json.dumps(ref, indent=1) + "\n")


def check(folder):
    """Opens every file listed in ``written.json`` with nibabel and SimpleITK and compares."""
    folder = Path(folder)
    spec = json.loads((folder / "written.json").read_text())
    bad = 0
    for item in spec:
        path = folder / item["file"]
        want = np.load(folder / item["data"])
        aff = np.asarray(item["affine"])
        spacing_xyz = list(reversed(item["spacing_zyx"]))
        img = nib.load(str(path))
        h = img.header
        got = np.asarray(img.dataobj).transpose(2, 1, 0)
        errs = []
        if got.dtype != want.dtype or not np.array_equal(got, want):
            errs.append(f"nibabel data differs ({got.dtype} vs {want.dtype})")
        if np.abs(img.affine - aff).max() > 1e-5:
            errs.append(f"nibabel affine differs by {np.abs(img.affine - aff).max():g}")
        if np.abs(h.get_qform() - aff).max() > 1e-5:
            errs.append(f"nibabel qform differs by {np.abs(h.get_qform() - aff).max():g}")
        if np.abs(np.asarray(h.get_zooms()[:3]) - spacing_xyz).max() > 1e-6:
            errs.append("nibabel zooms differ")
        im = sitk.ReadImage(str(path))
        if not np.array_equal(sitk.GetArrayFromImage(im), want):
            errs.append("SimpleITK data differs")
        flip = np.diag([-1.0, -1.0, 1.0])
        origin = flip @ aff[:3, 3]
        direction = flip @ aff[:3, :3] / np.linalg.norm(aff[:3, :3], axis=0)
        d_sp = np.abs(np.asarray(im.GetSpacing()) - spacing_xyz).max()
        d_or = np.abs(np.asarray(im.GetOrigin()) - origin).max()
        d_di = np.abs(np.asarray(im.GetDirection()).reshape(3, 3) - direction).max()
        if max(d_sp, d_or, d_di) > 1e-5:
            errs.append(f"SimpleITK geometry differs: spacing {d_sp:g}, origin {d_or:g}, direction {d_di:g}")
        status = "OK" if not errs else "FAIL: " + "; ".join(errs)
        bad += bool(errs)
        print(f"{item['file']}: {status} (max |diff| spacing {d_sp:.2g}, origin {d_or:.2g}, direction {d_di:.2g})")
    print(f"{len(spec) - bad}/{len(spec)} files OK")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    main()

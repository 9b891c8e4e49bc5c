"""Golden fixtures for case loading and the MAMA-MIA tables (``nnunet-preproc`` tests ``case.rs``, ``mamamia.rs``).

Produces ``crates/nnunet-preproc/tests/data/mamamia/``:

* ``case/*.nii.gz``: tiny 3-D NIfTI files (array 4x5x6, written with SimpleITK 2.5.7) that differ from ``c0`` in
  one respect each (data, spacing within / beyond numpy ``allclose``, shape, origin, direction), label maps
  ``seg.nii.gz`` / ``seg_empty.nii.gz`` / ``seg_shape.nii.gz``;
* ``case_expected.json``: for each scenario, what nnunetv2 2.8.1 says —
  ``SimpleITKIO().read_images(channels)`` (raises on shape/spacing mismatch, prints origin/direction warnings) and,
  with a segmentation, ``verify_dataset_integrity.check_cases`` (False on image/seg shape or spacing mismatch,
  prints origin/direction warnings); ``case_a_data.npy`` (C, z, y, x) float32 and ``case_a_seg.npy`` int16: the arrays
  nnunetv2 reads for scenario ``a``;
* ``clinical.csv`` and ``splits.csv``: small tables with missing cells in the forms pandas writes or accepts;
* ``clinical_expected.json``: ``pd.read_csv`` (pandas 3.1.1, default ``na_values``) of ``clinical.csv`` — typed
  columns as numbers/None, every column as text via ``dtype=str`` — and the menopause subgroups after the
  cleaning of LidiaGarrucho/MAMA-MIA ``src/challenge/scoring_task1.py`` and ``scoring_task2.py``;
* ``splits_expected.json``: ``pd.read_csv(splits.csv)[col].dropna()`` per column;
* ``breast_box.npy`` / ``breast_box_expected.json`` + ``breast_box_masked_<k>.npy``: the organisers' sample
  ``apply_breast_mask`` slicing ``out[x_min:x_max, y_min:y_max, z_min:z_max] = arr[...]`` on an int16 array.

Re-run with ``.venv/bin/python tools/golden/make_mamamia_fixtures.py`` from the repository root.
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from nnunetv2.experiment_planning.verify_dataset_integrity import check_cases
from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

OUT = Path("crates/nnunet-preproc/tests/data/mamamia")
CASE = OUT / "case"

SHAPE = (4, 5, 6)  # array (z, y, x)
SPACING = (0.8, 0.7, 1.5)  # SimpleITK (x, y, z)
ORIGIN = (10.0, -20.0, 30.0)
DIRECTION = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def write(name, arr, spacing=SPACING, origin=ORIGIN, direction=DIRECTION):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(direction)
    sitk.WriteImage(img, str(CASE / name), True)


def make_case_files(rng):
    CASE.mkdir(parents=True, exist_ok=True)
    data = lambda shape=SHAPE: np.round(rng.normal(100.0, 30.0, shape), 2).astype(np.float32)
    write("c0.nii.gz", data())
    write("c1.nii.gz", data())
    write("c_sp_close.nii.gz", data(), spacing=(0.8 * (1 + 5e-6), 0.7, 1.5))
    write("c_sp_far.nii.gz", data(), spacing=(0.8 * (1 + 3e-5), 0.7, 1.5))
    write("c_shape.nii.gz", data((4, 5, 7)))
    write("c_origin.nii.gz", data(), origin=(10.5, -20.0, 30.0))
    c, s = np.cos(0.3), np.sin(0.3)
    write("c_dir.nii.gz", data(), direction=(-c, -s, 0.0, s, -c, 0.0, 0.0, 0.0, 1.0))
    seg = np.zeros(SHAPE, np.uint8)
    seg[1:3, 2:4, 1:4] = 1
    write("seg.nii.gz", seg)
    write("seg_empty.nii.gz", np.zeros(SHAPE, np.uint8))
    write("seg_shape.nii.gz", np.zeros((4, 6, 6), np.uint8))
    write("seg_sp_far.nii.gz", seg, spacing=(0.8, 0.7, 1.5 * (1 + 3e-5)))


def run_quiet(fn):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            result = fn()
            error = None
        except RuntimeError:
            result, error = None, "RuntimeError"
    return result, error, buf.getvalue()


def error_kind(text):
    """Which check failed, from nnunetv2's printout ("same shape!", "Shape mismatch", ...)."""
    low = text.lower()
    for kind in ("shape", "spacing"):
        if f"have the same {kind}!" in low or f"error: {kind} mismatch" in low:
            return kind
    return None


def warnings_of(text):
    kinds = []
    for kind in ("origin", "direction"):
        if f"not all input images have the same {kind}" in text.lower() or f"{kind} mismatch" in text.lower():
            kinds.append(kind)
    return kinds


def case_scenarios():
    scenarios = {
        "a": (["c0", "c1"], "seg"),
        "b_spacing_close": (["c0", "c_sp_close"], None),
        "c_spacing_far": (["c0", "c_sp_far"], None),
        "d_shape": (["c0", "c_shape"], None),
        "e_origin": (["c0", "c_origin"], None),
        "f_direction": (["c0", "c_dir"], None),
        "g_seg_shape": (["c0"], "seg_shape"),
        "h_seg_spacing": (["c0"], "seg_sp_far"),
        "i_seg_empty": (["c0", "c1"], "seg_empty"),
    }
    out = {}
    rw = SimpleITKIO()
    for name, (channels, seg) in scenarios.items():
        files = [str(CASE / f"{c}.nii.gz") for c in channels]
        read, error, text = run_quiet(lambda: rw.read_images(files))
        entry = {"channels": channels, "segmentation": seg, "images_error": error, "error_kind": error_kind(text)}
        warnings = warnings_of(text)
        seg_ok = None
        if seg is not None and error is None:
            seg_file = str(CASE / f"{seg}.nii.gz")
            seg_ok, seg_error, seg_text = run_quiet(lambda: check_cases(files, seg_file, len(files), SimpleITKIO))
            assert seg_error is None
            entry["error_kind"] = entry["error_kind"] or error_kind(seg_text)
            warnings += [w for w in warnings_of(seg_text) if w not in warnings]
            segmentation, _ = rw.read_seg(seg_file)
            entry["seg_foreground_voxels"] = int((segmentation > 0).sum())
        entry["seg_ok"] = seg_ok
        entry["warnings"] = warnings
        if read is not None:
            entry["spacing_zyx"] = [float(v) for v in read[1]["spacing"]]
            entry["data_shape"] = list(read[0].shape)
        if name == "a":
            np.save(OUT / "case_a_data.npy", read[0].astype(np.float32))
            np.save(OUT / "case_a_seg.npy", rw.read_seg(str(CASE / "seg.nii.gz"))[0][0].astype(np.int16))
        out[name] = entry
    (OUT / "case_expected.json").write_text(json.dumps(out, indent=1) + "\n")


CLINICAL_CSV = """patient_id,dataset,site,age,menopause,breast_density,pcr,tumor_subtype,hr,er,pr,her2,num_phases,pixel_spacing,acquisition_times
DUKE_001,DUKE,,41,pre,NaN,1.0,triple_negative,0,0,0,0,4,"[0.804, 0.804]","[0, 584, 714, 846]"
duke_002,DUKE,NA,63.5,post,c,0,luminal,1,1,0,0,5,"[0.7, 0.7]",
ISPY2_125418,ISPY2,Site AA1,37,pre (<6 months since LMP AND no prior bilateral ovariectomy AND not on estrogen replacement),,,her2_enriched,0,0,0,1,6,"[0.6, 0.6]","[0, 90]"
ISPY2_200001,ISPY2,Site AA2,,peri (6-12 months since LMP),,1,luminal_b,1,1,1,1,6,,
ISPY2_200002,ISPY2,Site AA2,55,Post,,0,luminal_a,1,1,NaN,0,6,,
ISPY1_1001,ISPY1,n/a,48,,,NULL,luminal,1,1,1,,3,,
NACT_01,NACT,,71,unknown,,0,None,,,,,3,,
"""

SPLITS_CSV_ROWS = (
    ["DUKE_001", "duke_002", "ISPY2_125418", "ISPY1_1001", "NACT_01"],
    ["ISPY2_200001", "ISPY2_200002"],
)

TYPED = ["dataset", "age", "menopause", "breast_density", "pcr", "tumor_subtype", "hr", "er", "pr", "her2"]


def none_if_nan(v):
    return None if pd.isna(v) else v


def task1_groups(s):
    # LidiaGarrucho/MAMA-MIA src/challenge/scoring_task1.py (the cleaning chain, verbatim semantics)
    s = s.fillna("unknown")
    s = s.apply(lambda x: "pre" if "peri" in x else x)
    s = s.apply(lambda x: "post" if "post" in x else x)
    s = s.apply(lambda x: "pre" if "pre" in x else x)
    return s


def task2_groups(s):
    # LidiaGarrucho/MAMA-MIA src/challenge/scoring_task2.py
    return s.fillna("unknown").str.lower().apply(
        lambda x: "pre" if "peri" in x or "pre" in x else ("post" if "post" in x else x)
    )


def make_tables():
    (OUT / "clinical.csv").write_text(CLINICAL_CSV)
    typed = pd.read_csv(OUT / "clinical.csv")
    text = pd.read_csv(OUT / "clinical.csv", dtype=str)
    g1 = task1_groups(typed["menopause"])
    g2 = task2_groups(typed["menopause"])
    records = []
    for i in range(len(typed)):
        rec = {"patient_id": str(typed.loc[i, "patient_id"]).upper()}
        for col in TYPED:
            v = none_if_nan(typed.loc[i, col])
            if col in ("pcr", "hr", "er", "pr", "her2") and v is not None:
                v = int(v)
            elif col == "age" and v is not None:
                v = float(v)
            rec[col] = v
        rec["extra"] = {
            c: text.loc[i, c]
            for c in text.columns
            if c not in TYPED and c != "patient_id" and not pd.isna(text.loc[i, c])
        }
        rec["menopause_task1"] = g1[i]
        rec["menopause_task2"] = g2[i]
        records.append(rec)
    (OUT / "clinical_expected.json").write_text(
        json.dumps({"columns": list(typed.columns), "records": records}, indent=1) + "\n"
    )

    train, test = SPLITS_CSV_ROWS
    df = pd.DataFrame({"train_split": train, "test_split": test + [np.nan] * (len(train) - len(test))})
    df.to_csv(OUT / "splits.csv", index=False)
    back = pd.read_csv(OUT / "splits.csv")
    (OUT / "splits_expected.json").write_text(
        json.dumps(
            {c: [str(v).upper() for v in back[c].dropna()] for c in ("train_split", "test_split")}, indent=1
        )
        + "\n"
    )


def make_breast_box(rng):
    arr = rng.integers(1, 100, size=(6, 7, 8)).astype(np.int16)
    np.save(OUT / "breast_box.npy", arr)
    boxes = [
        {"x_min": 1, "x_max": 4, "y_min": 2, "y_max": 6, "z_min": 3, "z_max": 8},
        {"x_min": 0, "x_max": 10, "y_min": 5, "y_max": 20, "z_min": 2, "z_max": 3},
        {"x_min": 2, "x_max": 2, "y_min": 0, "y_max": 7, "z_min": 0, "z_max": 8},
        {"x_min": 7, "x_max": 9, "y_min": 0, "y_max": 7, "z_min": 0, "z_max": 8},
    ]
    for k, c in enumerate(boxes):
        # the organisers' sample submission, apply_breast_mask
        masked = np.zeros_like(arr)
        masked[c["x_min"]:c["x_max"], c["y_min"]:c["y_max"], c["z_min"]:c["z_max"]] = arr[
            c["x_min"]:c["x_max"], c["y_min"]:c["y_max"], c["z_min"]:c["z_max"]
        ]
        np.save(OUT / f"breast_box_masked_{k}.npy", masked)
    (OUT / "breast_box_expected.json").write_text(json.dumps({"boxes": boxes}, indent=1) + "\n")


def main():
    rng = np.random.default_rng(20250817)
    OUT.mkdir(parents=True, exist_ok=True)
    make_case_files(rng)
    case_scenarios()
    make_tables()
    make_breast_box(rng)


if __name__ == "__main__":
    main()

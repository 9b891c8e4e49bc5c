//! In-process timing of [`radiomics::extract`]: reads the NIfTI image and mask first (untimed, with
//! `nnunet_preproc::read_volume` / `read_label_map` as `extract_features` does), then times `extract` on the
//! arrays already in memory over N runs and prints one JSON object
//! `{"runs": N, "min_s": …, "median_s": …, "features": n, "voxels": [nz, ny, nx], "threads": t}`.
//!
//! The PyRadiomics side of the comparison (`benches/compare_radiomics.py`) likewise times
//! `RadiomicsFeatureExtractor().execute(sitk_image, sitk_mask)` on images already read.
//!
//! ```text
//! time_extract --image I.nii.gz --mask M.nii.gz [--runs 10] [--out features.json] [--per-class]
//! ```
//!
//! `--per-class` adds `"per_class_median_s"`: each class through its own entry point
//! (`radiomics::shape`, `firstorder`, …; checks, crop and discretisation included in each).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use radiomics::{extract, Features, Settings};

fn main() -> Result<()> {
    let mut image = None;
    let mut mask = None;
    let mut runs = 10usize;
    let mut out: Option<PathBuf> = None;
    let mut per_class = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--image" => image = Some(PathBuf::from(value()?)),
            "--mask" => mask = Some(PathBuf::from(value()?)),
            "--runs" => runs = value()?.parse().context("--runs")?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--per-class" => per_class = true,
            other => bail!("unknown argument {other}"),
        }
    }
    let (Some(image), Some(mask)) = (image, mask) else {
        bail!("usage: time_extract --image I.nii.gz --mask M.nii.gz [--runs 10] [--out F.json]");
    };
    let volume = nnunet_preproc::read_volume(&image)
        .with_context(|| format!("reading {}", image.display()))?;
    let (labels, _) = nnunet_preproc::read_label_map(&mask)
        .with_context(|| format!("reading {}", mask.display()))?;
    let spacing = volume.geometry.spacing;
    let settings = Settings::default();
    let mut times = Vec::with_capacity(runs.max(1));
    let mut features = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let f = extract(volume.data.view(), labels.view(), spacing, &settings)?;
        times.push(t.elapsed().as_secs_f64());
        features = Some(f);
    }
    let features = features.context("no run")?;
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        0.5 * (times[n / 2 - 1] + times[n / 2])
    };
    if let Some(out) = out {
        let map: serde_json::Map<String, serde_json::Value> = features
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        std::fs::write(&out, serde_json::to_string(&map)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    let mut classes = serde_json::Map::new();
    if per_class {
        type Entry = fn(
            ndarray::ArrayView3<f32>,
            ndarray::ArrayView3<i16>,
            [f64; 3],
            &Settings,
        ) -> radiomics::Result<Features>;
        let entries: [(&str, Entry); 7] = [
            ("shape", radiomics::shape),
            ("firstorder", radiomics::firstorder),
            ("glcm", radiomics::glcm),
            ("gldm", radiomics::gldm),
            ("glrlm", radiomics::glrlm),
            ("glszm", radiomics::glszm),
            ("ngtdm", radiomics::ngtdm),
        ];
        for (name, f) in entries {
            let mut t_class = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                f(volume.data.view(), labels.view(), spacing, &settings)?;
                t_class.push(t.elapsed().as_secs_f64());
            }
            t_class.sort_by(f64::total_cmp);
            classes.insert(name.into(), serde_json::json!(t_class[n / 2]));
        }
    }
    let d = volume.data.dim();
    println!(
        "{}",
        serde_json::json!({
            "runs": n,
            "min_s": times[0],
            "median_s": median,
            "features": features.len(),
            "voxels": [d.0, d.1, d.2],
            "threads": rayon::current_num_threads(),
            "per_class_median_s": classes,
        })
    );
    Ok(())
}

//! PyRadiomics-identical features from the command line (the `radiomics` crate; PyRadiomics 3.1.0 names,
//! order and defaults).
//!
//! ```text
//! # one case → JSON object {name: value} or CSV (header case_id,<features…> + one row)
//! extract_features --image I.nii.gz --mask M.nii.gz [--params P.yaml] [--label 1] --out F.json|F.csv
//! # a MAMA-MIA download: every case with a mask (expert segmentations, or <masks>/<case_id>.nii.gz)
//! extract_features --data <MAMA-MIA root> [--masks <dir>] [--phase 1] [--params P.yaml] --out features.csv
//! # a list of cases: CSV with header case_id,image,mask
//! extract_features --list cases.csv [--params P.yaml] --out features.csv
//! ```
//!
//! Batch mode runs cases in parallel (all cores), prints progress, writes failed cases with their error to
//! `<out>.errors.csv` and goes on. Images are read with `nnunet_preproc::read_volume` (SimpleITK's array
//! order `(z, y, x)`, spacing in array order), masks with `read_label_map`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Parser;
use radiomics::{extract, Features, Settings};

#[derive(Debug, Parser)]
#[command(about = "PyRadiomics-identical radiomic features of one case or a MAMA-MIA dataset")]
struct Args {
    /// Image of a single case.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Mask of a single case.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// MAMA-MIA root (batch mode).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Folder of masks named <case_id>.nii.gz (batch mode; default: the expert segmentations).
    #[arg(long)]
    masks: Option<PathBuf>,
    /// DCE phase whose image is used (batch mode).
    #[arg(long, default_value_t = 1)]
    phase: usize,
    /// CSV list `case_id,image,mask` (batch mode).
    #[arg(long)]
    list: Option<PathBuf>,
    /// PyRadiomics params file (YAML/JSON).
    #[arg(long)]
    params: Option<PathBuf>,
    /// ROI label (overrides the params file).
    #[arg(long)]
    label: Option<u32>,
    /// Output file: .json or .csv (single case), .csv (batch).
    #[arg(long)]
    out: PathBuf,
}

struct Case {
    id: String,
    image: PathBuf,
    mask: PathBuf,
}

fn features_of(case: &Case, settings: &Settings) -> Result<Features> {
    let image = nnunet_preproc::read_volume(&case.image)
        .with_context(|| format!("reading {}", case.image.display()))?;
    let (mask, mask_geometry) = nnunet_preproc::read_label_map(&case.mask)
        .with_context(|| format!("reading {}", case.mask.display()))?;
    let (a, b) = (image.geometry.spacing, mask_geometry.spacing);
    if a.iter()
        .zip(&b)
        .any(|(x, y)| (x - y).abs() > 1e-6 * x.abs().max(1.0))
    {
        bail!("image/mask geometry mismatch: spacing {a:?} vs {b:?}");
    }
    Ok(extract(image.data.view(), mask.view(), a, settings)?)
}

fn csv_value(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{v:?}")
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn batch_cases(args: &Args) -> Result<Vec<Case>> {
    if let Some(list) = &args.list {
        let text =
            std::fs::read_to_string(list).with_context(|| format!("reading {}", list.display()))?;
        let base = list.parent().unwrap_or(Path::new("."));
        let mut cases = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols.len() < 3 {
                bail!("{}:{}: expected case_id,image,mask", list.display(), i + 1);
            }
            cases.push(Case {
                id: cols[0].into(),
                image: base.join(cols[1]),
                mask: base.join(cols[2]),
            });
        }
        return Ok(cases);
    }
    let root = args
        .data
        .as_ref()
        .context("--data, --list or --image/--mask is required")?;
    let ds = nnunet_preproc::MamaMia::open(root)?;
    let mut cases = Vec::new();
    for id in ds.case_ids() {
        let files = ds.case_files(id, &[args.phase])?;
        let mask = match &args.masks {
            Some(dir) => Some(dir.join(format!("{id}.nii.gz"))),
            None => files.segmentation.clone(),
        };
        if let Some(mask) = mask {
            cases.push(Case {
                id: id.clone(),
                image: files.channels[0].clone(),
                mask,
            });
        }
    }
    Ok(cases)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut settings = match &args.params {
        Some(p) => Settings::from_params_file(p)?,
        None => Settings::default(),
    };
    if let Some(l) = args.label {
        settings.label = l;
        settings.check()?;
    }
    if let (Some(image), Some(mask)) = (&args.image, &args.mask) {
        let id = image
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".nii.gz").to_string())
            .unwrap_or_default();
        let case = Case {
            id: id.clone(),
            image: image.clone(),
            mask: mask.clone(),
        };
        let f = features_of(&case, &settings)?;
        let text = if args.out.extension().is_some_and(|e| e == "json") {
            // Written by hand to keep PyRadiomics' order (serde_json's map sorts keys); NaN → null.
            let entries: Vec<String> = f
                .iter()
                .map(|(n, v)| {
                    format!(
                        "  {}: {}",
                        serde_json::Value::from(n),
                        serde_json::Value::from(v)
                    )
                })
                .collect();
            format!("{{\n{}\n}}\n", entries.join(",\n"))
        } else {
            let header: Vec<&str> = f.names().collect();
            let row: Vec<String> = f.iter().map(|(_, v)| csv_value(v)).collect();
            format!("case_id,{}\n{id},{}\n", header.join(","), row.join(","))
        };
        write_atomically(&args.out, &text)?;
        eprintln!("{} features → {}", f.len(), args.out.display());
        return Ok(());
    }

    let cases = batch_cases(&args)?;
    let n = cases.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<std::result::Result<Features, String>>>> =
        Mutex::new(vec![None; n]);
    let workers = std::thread::available_parallelism().map_or(1, |p| p.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = features_of(&cases[i], &settings).map_err(|e| format!("{e:#}"));
                results.lock().expect("results")[i] = Some(r);
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                eprint!("\r[{d}/{n}] {}", cases[i].id);
                let _ = std::io::stderr().flush();
            });
        }
    });
    eprintln!();
    let results = results.into_inner().expect("results");
    let mut csv = String::new();
    let mut errors = String::from("case_id,error\n");
    let mut failed = 0;
    for (case, r) in cases.iter().zip(results) {
        match r {
            Some(Ok(f)) => {
                if csv.is_empty() {
                    csv = format!("case_id,{}\n", f.names().collect::<Vec<_>>().join(","));
                }
                let row: Vec<String> = f.iter().map(|(_, v)| csv_value(v)).collect();
                csv.push_str(&format!("{},{}\n", case.id, row.join(",")));
            }
            Some(Err(e)) => {
                failed += 1;
                errors.push_str(&format!("{},\"{}\"\n", case.id, e.replace('"', "'")));
            }
            None => {}
        }
    }
    write_atomically(&args.out, &csv)?;
    let err_path = PathBuf::from(format!("{}.errors.csv", args.out.display()));
    write_atomically(&err_path, &errors)?;
    eprintln!(
        "{} of {n} cases → {}; {failed} failed → {}",
        n - failed,
        args.out.display(),
        err_path.display()
    );
    Ok(())
}

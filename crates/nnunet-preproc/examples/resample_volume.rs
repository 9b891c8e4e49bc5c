//! Resamples a `(C, z, y, x)` float32 `.npy` volume (and optionally a `(z, y, x)` int16 label map) from one
//! spacing to another exactly as nnU-Net's preprocessing does, and prints the wall time.
//!
//! ```text
//! cargo run --release -p nnunet-preproc --example resample_volume -- \
//!     --input data.npy --spacing 1.5,0.7,0.7 --new-spacing 1,1,1 --output out.npy \
//!     [--seg seg.npy --seg-output seg_out.npy] [--order 3] [--repeat 3]
//! ```
//!
//! Spacings are in array order `z,y,x` (mm). `--order 1` resamples like nnU-Net's export (logits). With
//! `--repeat N` the resampling runs N times and the median (and minimum) wall time is reported. The last line
//! of output is a JSON object with the timings (seconds) for scripts such as `benches/compare_preproc.py`.

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use ndarray::{Array3, Array4};
use ndarray_npy::{read_npy, write_npy};
use nnunet_preproc::resample::{
    compute_new_shape, resample_data, resample_segmentation, Order, ResampleConfig,
    SegResampleConfig,
};

#[derive(Debug, Default)]
struct Args {
    input: String,
    output: Option<String>,
    seg: Option<String>,
    seg_output: Option<String>,
    spacing: [f64; 3],
    new_spacing: [f64; 3],
    order: u32,
    repeat: usize,
}

fn parse_spacing(s: &str) -> Result<[f64; 3]> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()?;
    v.try_into()
        .map_err(|_| anyhow!("spacing needs three comma-separated values (z,y,x): {s}"))
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        order: 3,
        repeat: 1,
        ..Args::default()
    };
    let (mut have_spacing, mut have_new) = (false, false);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--input" => args.input = value()?,
            "--output" => args.output = Some(value()?),
            "--seg" => args.seg = Some(value()?),
            "--seg-output" => args.seg_output = Some(value()?),
            "--spacing" => {
                args.spacing = parse_spacing(&value()?)?;
                have_spacing = true;
            }
            "--new-spacing" => {
                args.new_spacing = parse_spacing(&value()?)?;
                have_new = true;
            }
            "--order" => args.order = value()?.parse()?,
            "--repeat" => args.repeat = value()?.parse::<usize>()?.max(1),
            other => bail!("unknown argument {other} (see the example's doc comment)"),
        }
    }
    if args.input.is_empty() || !have_spacing || !have_new {
        bail!("--input, --spacing and --new-spacing are required");
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let data: Array4<f32> =
        read_npy(&args.input).with_context(|| format!("reading {}", args.input))?;
    let (c, z, y, x) = data.dim();
    let new_shape = compute_new_shape([z, y, x], args.spacing, args.new_spacing);
    let config = ResampleConfig {
        order: Order::from_spline_order(args.order)?,
        ..ResampleConfig::default()
    };
    println!(
        "data ({c}, {z}, {y}, {x}) spacing {:?} -> {:?}: new shape {new_shape:?}, {} rayon threads",
        args.spacing,
        args.new_spacing,
        rayon::current_num_threads()
    );

    let mut data_times = Vec::new();
    let mut out = None;
    for _ in 0..args.repeat {
        let t = Instant::now();
        out = Some(resample_data(
            data.view(),
            new_shape,
            args.spacing,
            args.new_spacing,
            &config,
        ));
        data_times.push(t.elapsed().as_secs_f64());
    }
    let (data_s, data_min) = median_min(&mut data_times);
    println!("resample_data: median {data_s:.3} s, min {data_min:.3} s");
    if let (Some(path), Some(out)) = (&args.output, &out) {
        write_npy(path, out).with_context(|| format!("writing {path}"))?;
    }

    let mut seg_s = None;
    if let Some(seg_path) = &args.seg {
        let seg: Array3<i16> = read_npy(seg_path).with_context(|| format!("reading {seg_path}"))?;
        let mut times = Vec::new();
        let mut seg_out = None;
        for _ in 0..args.repeat {
            let t = Instant::now();
            seg_out = Some(resample_segmentation(
                seg.view(),
                new_shape,
                args.spacing,
                args.new_spacing,
                &SegResampleConfig::default(),
            ));
            times.push(t.elapsed().as_secs_f64());
        }
        let (median, min) = median_min(&mut times);
        println!("resample_segmentation: median {median:.3} s, min {min:.3} s");
        if let (Some(path), Some(seg_out)) = (&args.seg_output, &seg_out) {
            write_npy(path, seg_out).with_context(|| format!("writing {path}"))?;
        }
        seg_s = Some((median, min));
    }
    let json = |v: Option<f64>| v.map_or("null".to_string(), |s| format!("{s:.6}"));
    println!(
        "{{\"data_s\": {data_s:.6}, \"data_min_s\": {data_min:.6}, \"seg_s\": {}, \"seg_min_s\": {}, \"threads\": {}}}",
        json(seg_s.map(|s| s.0)),
        json(seg_s.map(|s| s.1)),
        rayon::current_num_threads()
    );
    Ok(())
}

/// Median and minimum of the measured times.
fn median_min(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        0.5 * (times[n / 2 - 1] + times[n / 2])
    };
    (median, times[0])
}

//! Times sequential forward selection with the in-crate logistic regression on a CSV
//! (`case_id,<features…>,label`), as `benches/compare_snn.py` does with scikit-learn's
//! `SequentialFeatureSelector(LogisticRegression())` on the same file, and prints one JSON line.
//!
//! ```sh
//! cargo run --release -p snn --example time_sfs -- data.csv [n_features] [n_splits] [repeat]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use snn::{sequential_feature_selection, FeatureTable, LogisticRegression, SfsConfig};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = PathBuf::from(
        args.first()
            .context("usage: time_sfs data.csv [n_features] [n_splits] [repeat]")?,
    );
    let n_features: usize = args.get(1).map_or(Ok(40), |s| s.parse())?;
    let n_splits: usize = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let repeat: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let table = FeatureTable::from_csv(&path)?;
    let label = table.names.len() - 1;
    let y: Vec<u8> = table
        .values
        .column(label)
        .iter()
        .map(|&v| v as u8)
        .collect();
    let x = table.values.slice(ndarray::s![.., ..label]).to_owned();
    let cfg = SfsConfig {
        n_features,
        n_splits,
        ..SfsConfig::default()
    };
    let mut times = Vec::new();
    let mut selected = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        selected =
            sequential_feature_selection(x.view(), &y, &LogisticRegression::default(), &cfg)?
                .selected;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({"median_s": times[times.len() / 2], "times_s": times, "selected": selected,
                           "threads": rayon::current_num_threads()})
    );
    Ok(())
}

//! Criterion benches of the five texture classes on discretised, bbox-cropped inputs:
//! brain1 (7×70×47 bbox, 4137 ROI voxels, Ng 33; `tests/data/texture/brain1_default_levels.npy`) and a
//! synthetic 40×50×60 ellipsoid (~50k ROI voxels, 48 levels; `synthetic_levels` below, reproduced bit for
//! bit by `benches/compare_texture.py`, which times PyRadiomics 3.1 `Radiomics<Class>.execute()` on the
//! same inputs and prints the ratio).

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array3;
use radiomics::{texture_features, FeatureClass, TextureParams};

/// The synthetic input: an ellipsoid ROI in a 40×50×60 box with levels 1..=48.
///
/// ```text
/// inside  ((z−19.5)/19)² + ((y−24.5)/24)² + ((x−29.5)/29)² < 1
/// level = 1 + (3z + 5y + 7x + (z·y·x mod 11) + ⌊x/4⌋·⌊y/4⌋) mod 48
/// ```
fn synthetic_levels() -> Array3<u32> {
    Array3::from_shape_fn((40, 50, 60), |(z, y, x)| {
        let d = ((z as f64 - 19.5) / 19.0).powi(2)
            + ((y as f64 - 24.5) / 24.0).powi(2)
            + ((x as f64 - 29.5) / 29.0).powi(2);
        if d < 1.0 {
            1 + ((3 * z + 5 * y + 7 * x + (z * y * x) % 11 + (x / 4) * (y / 4)) % 48) as u32
        } else {
            0
        }
    })
}

/// Reads the brain1 levels fixture (`<u2` C-order `.npy`).
fn brain1_levels() -> Array3<u32> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/texture/brain1_default_levels.npy"
    );
    let bytes = std::fs::read(path).expect("brain1 levels fixture");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("header");
    let shape: Vec<usize> = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape")
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("dim"))
        .collect();
    let data: Vec<u32> = bytes[10 + hlen..]
        .chunks_exact(2)
        .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    Array3::from_shape_vec((shape[0], shape[1], shape[2]), data).expect("levels")
}

fn bench(c: &mut Criterion) {
    let params = TextureParams::default();
    for (name, levels) in [
        ("brain1", brain1_levels()),
        ("synthetic", synthetic_levels()),
    ] {
        let ng = levels.iter().copied().max().unwrap_or(1);
        let mut g = c.benchmark_group(format!("texture_{name}"));
        g.sample_size(10);
        for class in [
            FeatureClass::Glcm,
            FeatureClass::Gldm,
            FeatureClass::Glrlm,
            FeatureClass::Glszm,
            FeatureClass::Ngtdm,
        ] {
            g.bench_function(class.name(), |b| {
                b.iter(|| {
                    texture_features(class, levels.view(), ng, &params, &[]).expect("features")
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

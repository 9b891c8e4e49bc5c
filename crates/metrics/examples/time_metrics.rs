//! Times Dice + HD95 on the two 256×256×160 ellipsoid masks of `fixtures/metrics/README.md` (regenerated
//! from their analytic definition; ~50k voxels each, spacing [0.7, 0.7, 1.5]) and prints one JSON line with
//! the median wall time of each variant (erosion-border HD95 in mm, the MAMA-MIA case score, and DeepMind
//! surfels: Dice + area-weighted HD95, and HD95 + HD + ASSD + NSD from one surfel distance set). Used by `benches/compare_metrics.py` (repository root), which times
//! the reference libraries on the same masks.
//!
//! ```text
//! cargo run --release -p medmetrics --example time_metrics -- [repeats]
//! ```

use std::time::Instant;

use medmetrics::{
    mamamia, EmptyPolicy, EmptyRule, Hd95Rule, Overlap, Surface, SurfaceDistances, SurfaceOptions,
    Units,
};
use ndarray::Array3;

fn ellipsoid(c: [f64; 3], r: [f64; 3]) -> Array3<bool> {
    Array3::from_shape_fn((256, 256, 160), |(i, j, k)| {
        ((i as f64 - c[0]) / r[0]).powi(2)
            + ((j as f64 - c[1]) / r[1]).powi(2)
            + ((k as f64 - c[2]) / r[2]).powi(2)
            <= 1.0
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> medmetrics::Result<()> {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let a = ellipsoid([128.0, 120.0, 80.0], [25.0, 25.0, 19.0]);
    let b = ellipsoid([131.0, 122.0, 81.0], [26.0, 24.0, 20.0]);
    let spacing = [0.7, 0.7, 1.5];
    let (mut t_mm, mut t_mamamia, mut t_dice) = (Vec::new(), Vec::new(), Vec::new());
    let (mut dice, mut hd95, mut hd95_vox) = (0.0, 0.0, 0.0);
    // DeepMind surfels: Dice + HD95 (area-weighted), and all four surfel metrics from one distance set.
    let surfels = SurfaceOptions {
        surface: Surface::Surfels,
        units: Units::Millimetre,
    };
    let (mut t_surfels, mut t_surfels_all) = (Vec::new(), Vec::new());
    let (mut hd95_surfels, mut assd_surfels, mut nsd_surfels) = (0.0, 0.0, 0.0);
    for _ in 0..repeats {
        let t = Instant::now();
        dice = Overlap::new(b.view(), a.view())?.dice(EmptyPolicy::Nan)?;
        t_dice.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let d = Overlap::new(b.view(), a.view())?.dice(EmptyPolicy::Nan)?;
        hd95 = SurfaceDistances::new(b.view(), a.view(), spacing, SurfaceOptions::default())?
            .percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::MONAI)?;
        t_mm.push(t.elapsed().as_secs_f64());
        assert_eq!(d, dice);
        let t = Instant::now();
        hd95_vox = mamamia::score_masks(b.view(), a.view())?.hd95_vox;
        t_mamamia.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let d = Overlap::new(b.view(), a.view())?.dice(EmptyPolicy::Nan)?;
        hd95_surfels = SurfaceDistances::new(b.view(), a.view(), spacing, surfels)?
            .percentile_hausdorff(95.0, Hd95Rule::AreaWeighted, EmptyRule::DEEPMIND)?;
        t_surfels.push(t.elapsed().as_secs_f64());
        assert_eq!(d, dice);
        let t = Instant::now();
        let sd = SurfaceDistances::new(b.view(), a.view(), spacing, surfels)?;
        let h = sd.percentile_hausdorff(95.0, Hd95Rule::AreaWeighted, EmptyRule::DEEPMIND)?;
        let _ = sd.hausdorff(EmptyRule::DEEPMIND)?;
        assd_surfels = sd.assd(medmetrics::AssdRule::MeanOfDirected, EmptyRule::DEEPMIND)?;
        nsd_surfels = sd.nsd(2.0, EmptyRule::DEEPMIND_NSD)?;
        t_surfels_all.push(t.elapsed().as_secs_f64());
        assert_eq!(h, hd95_surfels);
    }
    println!(
        "{{\"dice_s\": {}, \"dice_hd95_mm_s\": {}, \"mamamia_case_s\": {}, \"dice\": {dice}, \"hd95_mm\": {hd95}, \
         \"hd95_vox\": {hd95_vox}, \"dice_hd95_surfels_s\": {}, \"surfels_all_s\": {}, \
         \"hd95_surfels\": {hd95_surfels}, \"assd_surfels\": {assd_surfels}, \"nsd_surfels\": {nsd_surfels}, \
         \"repeats\": {repeats}, \"threads\": {}}}",
        median(t_dice),
        median(t_mm),
        median(t_mamamia),
        median(t_surfels),
        median(t_surfels_all),
        rayon_threads()
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

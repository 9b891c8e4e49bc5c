//! The background loader: batch content is a function of (seed, batch index) only — identical for 0, 1 and 3
//! workers — shapes of data and deep-supervision targets, clean shutdown on drop.

use std::collections::BTreeMap;

use ndarray::{Array3, Array4};
use nnunet_preproc::{
    AugmentConfig, AugmentFlavour, InMemoryCase, Loader, LoaderConfig, LoaderMode, PatchSampler,
    SamplerConfig, TrainingCase,
};

fn sampler() -> PatchSampler {
    let cases: Vec<Box<dyn TrainingCase>> = (0..3)
        .map(|i| {
            let data = Array4::from_shape_fn((2, 20, 22, 18), |(c, z, y, x)| {
                ((c + i + z * y + x) % 13) as f32
            });
            let seg = Array3::from_shape_fn((20, 22, 18), |(z, y, _)| i16::from(z > 10 && y > 12));
            let locs: Vec<[usize; 3]> = seg
                .indexed_iter()
                .filter(|(_, &v)| v == 1)
                .map(|((a, b, c), _)| [a, b, c])
                .take(50)
                .collect();
            Box::new(InMemoryCase {
                id: format!("c{i}"),
                data,
                seg,
                class_locations: BTreeMap::from([(1i16, locs)]),
            }) as Box<dyn TrainingCase>
        })
        .collect();
    let cfg = SamplerConfig {
        patch_size: [12; 3],
        loader_patch_size: [16; 3],
        batch_size: 2,
        ..Default::default()
    };
    PatchSampler::new(cases, cfg).unwrap()
}

fn augment() -> AugmentConfig {
    let mut a = AugmentConfig::new(AugmentFlavour::V1MoreDA, [12; 3]);
    a.ds_scales = vec![[1.0; 3], [0.5; 3]];
    a.p_rotation = 0.5;
    a
}

#[test]
fn batches_do_not_depend_on_workers() {
    let run = |workers| {
        let mut l = Loader::new(
            sampler(),
            augment(),
            LoaderConfig {
                workers,
                prefetch: 2,
                seed: 5,
                mode: LoaderMode::Train,
            },
        )
        .unwrap();
        (0..6).map(|_| l.next_batch().unwrap()).collect::<Vec<_>>()
    };
    let inline = run(0);
    assert_eq!(inline, run(1));
    assert_eq!(inline, run(3));
    let b = &inline[0];
    assert_eq!(b.data.shape(), &[2, 2, 12, 12, 12]);
    assert_eq!(b.targets[0].shape(), &[2, 1, 12, 12, 12]);
    assert_eq!(b.targets[1].shape(), &[2, 1, 6, 6, 6]);
    assert_ne!(inline[0].data, inline[1].data);
    assert!(inline
        .iter()
        .all(|b| b.targets[0].iter().all(|&v| v == 0 || v == 1)));
}

#[test]
fn drop_stops_workers_with_full_queues() {
    let mut l = Loader::new(
        sampler(),
        augment(),
        LoaderConfig {
            workers: 2,
            prefetch: 1,
            seed: 1,
            mode: LoaderMode::Validation,
        },
    )
    .unwrap();
    let _ = l.next_batch().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    drop(l); // must return (workers blocked on send are released)
}

/* Trainer resume and checkpoint tests.

- A tiny MedNeXt (C = 4, one block per stage, DS on) trained 2 epochs × 3 iterations in one run equals, BIT FOR
  BIT (weights, optimiser state, losses, EMA), a run stopped after epoch 1 (observer break = interruption after
  `checkpoint_latest`) and resumed from `checkpoint_latest` for epoch 2. Batches come from nnU-Net's sampler +
  v1 moreDA augmentation over a generated, really preprocessed data set (inline, no worker threads).
- Checkpoint round trip: model tensors under the original keys, optimiser state, metadata; `build_model` and
  the exported plain weights (`MedNext::from_file`) give the trainer's outputs exactly.
- Atomic writes: a failing write leaves the previous file intact and no temporary file behind.

Reference behaviour: nnU-Net v2.8.1 `nnUNetTrainer.save_checkpoint` / `load_checkpoint` (resume continues at
`current_epoch` with optimiser state and logging); no golden file — the checks are exact equalities.
*/

mod train_common;

use std::ops::ControlFlow;

use candle_core::{Device, Tensor};
use mednext::train::checkpoint_io::write_atomically;
use mednext::train::{
    export_model_weights, initial_weights, read_checkpoint, read_model_tensors, write_checkpoint,
    AugmentationKind, CheckpointKind, EpochRecord, FoldId, InitMode, RunDir, Silent, TrainObserver,
    Trainer, TrainerConfig,
};
use mednext::{MedNext, MedNextConfig};

struct StopAfter(usize);

impl TrainObserver for StopAfter {
    fn on_epoch_end(&mut self, record: &EpochRecord) -> ControlFlow<()> {
        if record.epoch + 1 >= self.0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn config() -> TrainerConfig {
    TrainerConfig {
        max_epochs: 2,
        iters_per_epoch: 3,
        val_iters: 1,
        batch_size: 2,
        patch_size: [16; 3],
        initial_lr: 3e-3,
        augmentation: AugmentationKind::V1MoreDa,
        seed: 7,
        ..TrainerConfig::default()
    }
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_dtype(candle_core::DType::F32)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

fn strip_time(h: &[EpochRecord]) -> Vec<EpochRecord> {
    h.iter()
        .map(|r| EpochRecord {
            seconds: 0.0,
            ..r.clone()
        })
        .collect()
}

#[test]
fn resumed_run_is_bitwise_equal_and_checkpoints_round_trip() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let ids = train_common::synthetic_dataset(&data, 4, [10, 24, 24], 3);
    let (train_ids, val_ids) = (ids[..3].to_vec(), ids[3..].to_vec());
    let cfg = config();
    let model_cfg = train_common::tiny_model(4);
    let dev = Device::Cpu;

    // Uninterrupted: 2 epochs.
    let run_a = RunDir::new(tmp.path().join("a"));
    let (mut tr, mut va) = train_common::sources(&data, &train_ids, &val_ids, &cfg, true);
    let mut a = Trainer::new(&model_cfg, &cfg, &dev)?
        .with_output(run_a.fold_dir(FoldId::Index(0)), Some(FoldId::Index(0)));
    let out_a = a.fit(&mut tr, Some(&mut va), &mut Silent)?;
    assert_eq!(out_a.epochs_done, 2);
    assert!(!out_a.stopped);

    // Interrupted after epoch 1, resumed from checkpoint_latest with fresh sources.
    let run_b = RunDir::new(tmp.path().join("b"));
    let fold_b = run_b.fold_dir(FoldId::Index(0));
    {
        let (mut tr, mut va) = train_common::sources(&data, &train_ids, &val_ids, &cfg, true);
        let mut b =
            Trainer::new(&model_cfg, &cfg, &dev)?.with_output(&fold_b, Some(FoldId::Index(0)));
        let out = b.fit(&mut tr, Some(&mut va), &mut StopAfter(1))?;
        assert_eq!((out.epochs_done, out.stopped), (1, true));
        assert!(!run_b
            .checkpoint(FoldId::Index(0), CheckpointKind::Final)
            .exists());
    }
    let latest = run_b.checkpoint(FoldId::Index(0), CheckpointKind::Latest);
    assert_eq!(read_checkpoint(&latest)?.state.epochs_done, 1);
    assert_eq!(read_checkpoint(&latest)?.state.next_batch, 3);
    let (mut tr, mut va) = train_common::sources(&data, &train_ids, &val_ids, &cfg, true);
    let mut b = Trainer::resume(&latest, &dev)?.with_output(&fold_b, None);
    assert_eq!(b.epochs_done(), 1);
    let out_b = b.fit(&mut tr, Some(&mut va), &mut Silent)?;
    assert_eq!(out_b.epochs_done, 2);

    // Bitwise equal weights, optimiser state and history (but wall times).
    let (sa, sb) = (a.state_dict()?, b.state_dict()?);
    assert_eq!(sa.len(), sb.len());
    for (k, t) in &sa {
        assert_eq!(bits(t), bits(&sb[k]), "weight {k} differs after resume");
    }
    assert_eq!(strip_time(a.history()), strip_time(b.history()));
    let fa = read_checkpoint(run_a.checkpoint(FoldId::Index(0), CheckpointKind::Final))?;
    let fb = read_checkpoint(run_b.checkpoint(FoldId::Index(0), CheckpointKind::Final))?;
    assert_eq!(fa.optimizer.len(), fb.optimizer.len());
    for ((ka, ta), (kb, tb)) in fa.optimizer.iter().zip(&fb.optimizer) {
        assert_eq!(ka, kb);
        assert_eq!(
            bits(ta),
            bits(tb),
            "optimiser state {ka} differs after resume"
        );
    }
    eprintln!("history {:?}", a.history());

    // Round trip: the final checkpoint holds the trainer's model and state.
    assert_eq!(fa.state.epochs_done, 2);
    assert_eq!(fa.state.kind, CheckpointKind::Final);
    assert_eq!(fa.state.fold, Some(FoldId::Index(0)));
    assert_eq!(fa.state.model, model_cfg);
    assert_eq!(fa.state.trainer, cfg);
    assert_eq!(fa.state.steps, 6);
    assert!(fa.optimizer.iter().any(|(k, _)| k.ends_with(".exp_avg_sq")));
    for (k, t) in &sa {
        assert_eq!(bits(t), bits(&fa.model[k]), "checkpoint tensor {k}");
    }
    let x = Tensor::randn(0f32, 1.0, (1, 3, 16, 16, 16), &dev)?;
    let want = a.model().forward_logits(&x)?;
    let rebuilt = fa.build_model(&dev)?.forward_logits(&x)?;
    assert_eq!(bits(&want), bits(&rebuilt));
    let plain = tmp.path().join("weights.safetensors");
    export_model_weights(
        run_a.checkpoint(FoldId::Index(0), CheckpointKind::Final),
        &plain,
    )?;
    let from_file = MedNext::from_file(&model_cfg, &plain, &dev)?.forward_logits(&x)?;
    assert_eq!(bits(&want), bits(&from_file));

    // Stage 2: a k5 network initialised from the k3 checkpoint with UpKern (depthwise kernels resized,
    // everything else copied bit for bit); Exact refuses the shape change.
    let source = read_model_tensors(run_a.checkpoint(FoldId::Index(0), CheckpointKind::Final))?;
    let k5 = MedNextConfig {
        kernel_size: Some(5),
        ..model_cfg.clone()
    };
    let w5 = initial_weights(&source, &k5, InitMode::UpKern)?;
    assert_eq!(w5["enc_block_0.0.conv1.weight"].dims(), &[4, 1, 5, 5, 5]);
    assert_eq!(
        bits(&w5["enc_block_0.0.conv1.bias"]),
        bits(&sa["enc_block_0.0.conv1.bias"])
    );
    assert_eq!(bits(&w5["stem.weight"]), bits(&sa["stem.weight"]));
    assert!(initial_weights(&source, &k5, InitMode::Exact).is_err());
    let t5 = Trainer::with_weights(&k5, &cfg, &w5, &dev)?;
    assert_eq!(
        bits(&t5.state_dict()?["enc_block_0.0.conv1.weight"]),
        bits(&w5["enc_block_0.0.conv1.weight"])
    );

    // The log has one row per epoch, the best checkpoint exists.
    let log = std::fs::read_to_string(run_b.training_log(FoldId::Index(0)))?;
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(log.starts_with("epoch,train_loss,val_loss,pseudo_dice_1,"));
    assert!(run_a
        .checkpoint(FoldId::Index(0), CheckpointKind::Best)
        .exists());
    Ok(())
}

#[test]
fn failed_writes_leave_the_previous_file() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("checkpoint_latest.safetensors");
    std::fs::write(&path, b"previous")?;
    // A writer that fails half-way.
    let err = write_atomically(&path, |f| {
        use std::io::Write;
        f.write_all(b"partial")?;
        Err(std::io::Error::other("simulated crash"))
    });
    assert!(err.is_err());
    assert_eq!(std::fs::read(&path)?, b"previous");
    let names: Vec<_> = std::fs::read_dir(tmp.path())?
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");

    // A checkpoint that cannot be serialised (a model key in the optimiser namespace) is refused before
    // anything is written.
    let dev = Device::Cpu;
    let cfg = TrainerConfig {
        max_epochs: 1,
        iters_per_epoch: 1,
        patch_size: [16; 3],
        ..TrainerConfig::default()
    };
    let t = Trainer::new(&train_common::tiny_model(4), &cfg, &dev)?;
    let mut sd = t.state_dict()?;
    sd.insert(
        "optimizer.bad".into(),
        Tensor::zeros(1, candle_core::DType::F32, &dev)?,
    );
    let ckpt_state = {
        // A valid state taken from a real save.
        let d = tmp.path().join("fold");
        let t2 = Trainer::new(&train_common::tiny_model(4), &cfg, &dev)?.with_output(&d, None);
        t2.save(CheckpointKind::Latest)?;
        read_checkpoint(d.join(CheckpointKind::Latest.file_name()))?.state
    };
    assert!(write_checkpoint(&path, &sd, &[], &ckpt_state).is_err());
    assert_eq!(std::fs::read(&path)?, b"previous");
    Ok(())
}

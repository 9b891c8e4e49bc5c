/* Training smoke tests: a few AdamW steps on a tiny MedNeXt reduce a deep-supervision cross-entropy loss
on a fixed batch, deterministically; block recomputation (`checkpoint_style = "outside_block"`) gives the
same loss and gradients as the plain graph.

Reference: MIC-DKFZ/MedNeXt @ 0b78ed8 nnU-Net trainers (`nnUNetTrainerV2_Optim_and_LR`: AdamW, eps 1e-4,
weight decay 3e-5; deep-supervision weights 1/2^i with the last set to 0, normalised:
[0.5333, 0.2667, 0.1333, 0.0667, 0]); `torch.utils.checkpoint` leaves gradients unchanged. No golden file:
the checks are relative (loss decreases, two runs equal, checkpointed == plain).
*/

use candle_core::{Device, Tensor, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use mednext::{CheckpointStyle, ExpRatio, MedNextConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn tiny(checkpoint_style: Option<CheckpointStyle>) -> MedNextConfig {
    MedNextConfig {
        in_channels: 1,
        n_channels: 4,
        n_classes: 2,
        exp_r: ExpRatio::PerStage(vec![2, 3, 2, 2, 2, 2, 2, 3, 2]),
        kernel_size: Some(3),
        deep_supervision: true,
        do_res: true,
        do_res_up_down: true,
        block_counts: vec![1, 2, 1, 1, 1, 1, 1, 2, 1],
        checkpoint_style,
        ..MedNextConfig::default()
    }
}

/// A fixed batch: 2×1×16³ noise plus a bright ball; the label is the ball.
fn batch(dev: &Device) -> anyhow::Result<(Tensor, Tensor)> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 16usize;
    let mut x = Vec::with_capacity(2 * n * n * n);
    let mut y = Vec::with_capacity(2 * n * n * n);
    for b in 0..2 {
        let c = [6.0 + b as f32 * 3.0, 8.0, 7.0];
        for z in 0..n {
            for yy in 0..n {
                for xx in 0..n {
                    let r2 = (z as f32 - c[0]).powi(2)
                        + (yy as f32 - c[1]).powi(2)
                        + (xx as f32 - c[2]).powi(2);
                    let inside = r2 < 16.0;
                    x.push(if inside { 1.0 } else { 0.0 } + 0.3 * rng.gen_range(-1.0f32..1.0));
                    y.push(u32::from(inside));
                }
            }
        }
    }
    Ok((
        Tensor::from_vec(x, (2, 1, n, n, n), dev)?,
        Tensor::from_vec(y, (2, n, n, n), dev)?,
    ))
}

/// Σ_i w_i · CE(out_i, target[::2^i]) with nnU-Net's deep-supervision weights.
fn ds_loss(outs: &[Tensor], target: &Tensor) -> anyhow::Result<Tensor> {
    let raw = [1.0, 0.5, 0.25, 0.125, 0.0];
    let sum: f64 = raw.iter().sum();
    let mut total: Option<Tensor> = None;
    for (i, out) in outs.iter().enumerate() {
        if raw[i] == 0.0 {
            continue;
        }
        let step = 1usize << i;
        let mut t = target.clone();
        for axis in 1..4 {
            let len = t.dim(axis)?;
            let idx: Vec<u32> = (0..len).step_by(step).map(|v| v as u32).collect();
            let n = idx.len();
            t = t.index_select(&Tensor::from_vec(idx, n, t.device())?, axis)?;
        }
        let nc = out.dim(1)?;
        let logits = out.permute((0, 2, 3, 4, 1))?.reshape(((), nc))?;
        let ce = candle_nn::loss::cross_entropy(&logits, &t.flatten_all()?)?;
        let term = (ce * (raw[i] / sum))?;
        total = Some(match total {
            Some(acc) => (acc + term)?,
            None => term,
        });
    }
    total.ok_or_else(|| anyhow::anyhow!("no loss term"))
}

fn train(steps: usize) -> anyhow::Result<Vec<f32>> {
    let dev = Device::Cpu;
    let (model, varmap) = mednext::new_trainable(&tiny(None), 7, &dev)?;
    let params = ParamsAdamW {
        lr: 3e-3,
        eps: 1e-4,
        weight_decay: 3e-5,
        ..Default::default()
    };
    let mut opt = AdamW::new(mednext::sorted_vars(&varmap), params)?;
    let (x, y) = batch(&dev)?;
    let mut losses = Vec::new();
    for _ in 0..steps {
        let loss = ds_loss(&model.forward(&x)?, &y)?;
        losses.push(loss.to_scalar::<f32>()?);
        opt.backward_step(&loss)?;
    }
    Ok(losses)
}

#[test]
fn adamw_steps_reduce_the_loss_deterministically() -> anyhow::Result<()> {
    let losses = train(6)?;
    eprintln!("losses {losses:?}");
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(losses[5] < 0.9 * losses[0], "{losses:?}");
    assert_eq!(train(6)?, losses, "same seed, same losses");
    Ok(())
}

#[test]
fn seeded_init_is_reproducible_and_pytorch_like() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let (a, va) = mednext::new_trainable(&tiny(None), 1, &dev)?;
    let (b, _) = mednext::new_trainable(&tiny(None), 1, &dev)?;
    let (c, _) = mednext::new_trainable(&tiny(None), 2, &dev)?;
    let (sa, sb, sc) = (a.state_dict()?, b.state_dict()?, c.state_dict()?);
    let w = "enc_block_1.0.conv2.weight"; // (12, 8, 1,1,1): fan_in 8, bound 1/√8
    assert_eq!(
        sa[w].flatten_all()?.to_vec1::<f32>()?,
        sb[w].flatten_all()?.to_vec1::<f32>()?
    );
    assert_ne!(
        sa[w].flatten_all()?.to_vec1::<f32>()?,
        sc[w].flatten_all()?.to_vec1::<f32>()?
    );
    let bound = 1.0 / 8f32.sqrt();
    assert!(sa[w].abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()? <= bound);
    assert_eq!(
        sa["enc_block_1.0.norm.weight"].to_vec1::<f32>()?,
        vec![1.0; 8]
    );
    assert_eq!(
        sa["enc_block_1.0.norm.bias"].to_vec1::<f32>()?,
        vec![0.0; 8]
    );
    assert_eq!(sa["dummy_tensor"].to_vec1::<f32>()?, [1.0]);
    // Every state-dict entry is a variable, and sorted_vars is sorted by name.
    assert_eq!(mednext::sorted_vars(&va).len(), sa.len());
    Ok(())
}

fn grads_by_name(cfg: &MedNextConfig) -> anyhow::Result<(f32, Vec<(String, Tensor)>)> {
    let dev = Device::Cpu;
    let (model, varmap) = mednext::new_trainable(cfg, 11, &dev)?;
    let (x, y) = batch(&dev)?;
    let loss = ds_loss(&model.forward(&x)?, &y)?;
    let grads = loss.backward()?;
    let data = varmap.data().lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let mut out: Vec<(String, Tensor)> = data
        .iter()
        .filter_map(|(k, v)| grads.get(v.as_tensor()).map(|g| (k.clone(), g.clone())))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((loss.to_scalar::<f32>()?, out))
}

#[test]
fn recomputed_blocks_give_the_same_gradients() -> anyhow::Result<()> {
    let (l0, g0) = grads_by_name(&tiny(None))?;
    let (l1, g1) = grads_by_name(&tiny(Some(CheckpointStyle::OutsideBlock)))?;
    assert_eq!(l0, l1, "forward unchanged");
    // Every parameter but dummy_tensor gets a gradient, in both graphs.
    // All but dummy_tensor and the unsupervised bottleneck head out_4 (weight 0).
    let expected: Vec<String> = mednext::state_dict_shapes(&tiny(None))?
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k != "dummy_tensor" && !k.starts_with("out_4."))
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(
        g0.iter().map(|g| g.0.clone()).collect::<Vec<_>>(),
        expected_sorted
    );
    assert_eq!(
        g0.iter().map(|g| &g.0).collect::<Vec<_>>(),
        g1.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    let mut worst = 0f32;
    for ((k, a), (_, b)) in g0.iter().zip(&g1) {
        let d = (a - b)?
            .abs()?
            .flatten_all()?
            .max(D::Minus1)?
            .to_scalar::<f32>()?;
        let s = a.abs()?.flatten_all()?.max(D::Minus1)?.to_scalar::<f32>()?;
        assert!(d <= 1e-6 + 1e-5 * s, "{k}: {d} (scale {s})");
        worst = worst.max(d);
    }
    eprintln!("checkpointed vs plain: loss {l0} / {l1}, worst gradient difference {worst:e}");
    Ok(())
}

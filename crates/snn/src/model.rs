//! The self-normalising network: SELU, AlphaDropout, LeCun-normal initialisation and the MLP.
//!
//! Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017 (arXiv 1706.02515); PyTorch
//! `torch.nn.SELU` / `torch.nn.AlphaDropout`; seed code toufiqmusah/caladan-mama-mia @ `06e60fb`
//! `pcr-classification/pcr_classifier.py` (layer keys `fc1`, `fc2`, …). Layout follows candle-nn
//! (`Type::new` + snake_case loader + `impl Module`).

use std::sync::Mutex;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Linear, Module, ModuleT, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Init, SnnConfig};
use crate::Result;

/// SELU scale λ.
pub const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
/// SELU α.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// SELU activation with a gradient that stays finite for large inputs.
///
/// ```text
/// selu(x) = λ·x               x > 0
///         = λ·α·(exp(x) − 1)  x ≤ 0          λ = 1.0507009873554805, α = 1.6732632423543772
/// ```
///
/// Computed as `λ·elu(x, α)`: candle's `ops::selu` evaluates `exp(x)` on both branches and its backward
/// gives `0·∞ = NaN` for large positive `x`.
///
/// # Errors
/// Propagates candle errors (unsupported dtype).
pub fn selu(xs: &Tensor) -> candle_core::Result<Tensor> {
    xs.elu(SELU_ALPHA)? * SELU_LAMBDA
}

/// The affine constants of AlphaDropout for drop probability `p` (Klambauer et al. 2017, eq. 13).
///
/// ```text
/// α' = −λ·α,  q = 1 − p
/// a  = (q·(1 + p·α'²))^(−1/2),   b = −a·p·α'
/// kept: a·x + b,   dropped: a·α' + b
/// ```
#[must_use]
pub fn alpha_dropout_affine(p: f64) -> (f64, f64) {
    let alpha_p = -SELU_LAMBDA * SELU_ALPHA;
    let q = 1.0 - p;
    let a = (q * (1.0 + p * alpha_p * alpha_p)).powf(-0.5);
    (a, -a * p * alpha_p)
}

/// AlphaDropout: in training, drops each element with probability `p` to the SELU saturation value and
/// re-normalises with [`alpha_dropout_affine`], so mean 0 / variance 1 inputs keep mean 0 / variance 1;
/// the identity in evaluation. A fresh mask per call from a seeded ChaCha8 stream.
#[derive(Debug)]
pub struct AlphaDropout {
    p: f64,
    rng: Mutex<ChaCha8Rng>,
}

impl AlphaDropout {
    /// A layer with drop probability `p ∈ [0, 1)` whose masks come from `ChaCha8(seed)`.
    #[must_use]
    pub fn new(p: f64, seed: u64) -> Self {
        Self {
            p,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The drop probability.
    #[must_use]
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl ModuleT for AlphaDropout {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if !train || self.p == 0.0 {
            return Ok(xs.clone());
        }
        let (a, b) = alpha_dropout_affine(self.p);
        let dropped = a * (-SELU_LAMBDA * SELU_ALPHA) + b;
        let n = xs.elem_count();
        let (mut mul, mut add) = (Vec::with_capacity(n), Vec::with_capacity(n));
        {
            let mut rng = self
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for _ in 0..n {
                if rng.gen::<f64>() >= self.p {
                    mul.push(a);
                    add.push(b);
                } else {
                    mul.push(0.0);
                    add.push(dropped);
                }
            }
        }
        let mul = Tensor::from_vec(mul, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        let add = Tensor::from_vec(add, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        (xs * mul)? + add
    }
}

/// A self-normalising MLP: `(Linear → SELU → AlphaDropout)` per hidden width, then `Linear(·, 1)`; the output
/// is one logit per row, shape `(n,)`.
#[derive(Debug)]
pub struct Snn {
    hidden: Vec<Linear>,
    out: Linear,
    dropout: AlphaDropout,
    config: SnnConfig,
}

impl Snn {
    /// Assembles a network from its layers (`hidden.len()` must equal `config.hidden.len()`).
    #[must_use]
    pub fn new(hidden: Vec<Linear>, out: Linear, dropout: AlphaDropout, config: SnnConfig) -> Self {
        Self {
            hidden,
            out,
            dropout,
            config,
        }
    }

    /// The architecture.
    #[must_use]
    pub fn config(&self) -> &SnnConfig {
        &self.config
    }

    /// Pre-activations of every hidden layer after SELU (and AlphaDropout when `train`), for diagnostics
    /// such as the self-normalisation test.
    ///
    /// # Errors
    /// Propagates candle errors (shape mismatch of the input).
    pub fn hidden_activations(&self, xs: &Tensor, train: bool) -> candle_core::Result<Vec<Tensor>> {
        let mut h = xs.clone();
        let mut acts = Vec::with_capacity(self.hidden.len());
        for layer in &self.hidden {
            h = self.dropout.forward_t(&selu(&layer.forward(&h)?)?, train)?;
            acts.push(h.clone());
        }
        Ok(acts)
    }
}

impl ModuleT for Snn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mut h = xs.clone();
        for layer in &self.hidden {
            h = self.dropout.forward_t(&selu(&layer.forward(&h)?)?, train)?;
        }
        self.out.forward(&h)?.squeeze(1)
    }
}

/// Layer names in order: `fc1 … fc{k}` for the hidden layers, `fc{k+1}` for the output layer.
#[must_use]
pub fn layer_names(config: &SnnConfig) -> Vec<String> {
    (1..=config.hidden.len() + 1)
        .map(|i| format!("fc{i}"))
        .collect()
}

/// `(out, in)` shapes of the layers in [`layer_names`] order.
#[must_use]
pub fn layer_shapes(config: &SnnConfig) -> Vec<(usize, usize)> {
    let mut dims = vec![config.input_dim];
    dims.extend(&config.hidden);
    dims.push(1);
    dims.windows(2).map(|w| (w[1], w[0])).collect()
}

/// Loads a network from a [`VarBuilder`] (keys `fc{i}.weight` `(out, in)` and `fc{i}.bias` `(out,)`); the
/// dropout masks come from `ChaCha8(dropout_seed)`.
///
/// # Errors
/// [`crate::Error::InvalidParameter`] for an invalid configuration; candle errors for missing or misshapen
/// tensors.
pub fn snn(config: &SnnConfig, dropout_seed: u64, vb: VarBuilder) -> Result<Snn> {
    config.check()?;
    let mut layers = layer_names(config)
        .into_iter()
        .zip(layer_shapes(config))
        .map(|(name, (o, i))| {
            let vb = vb.pp(name);
            Ok(Linear::new(
                vb.get((o, i), "weight")?,
                Some(vb.get(o, "bias")?),
            ))
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    let out = layers.pop().expect("at least the output layer");
    Ok(Snn::new(
        layers,
        out,
        AlphaDropout::new(config.dropout, dropout_seed),
        config.clone(),
    ))
}

/// A freshly initialised, trainable network (parameters in the returned [`VarMap`]), drawn from
/// `ChaCha8(seed)` layer by layer ([`Init`]); dropout masks from `ChaCha8(seed + 1)`.
///
/// # Errors
/// [`crate::Error::InvalidParameter`] for an invalid configuration; candle errors.
pub fn new_trainable(
    config: &SnnConfig,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> Result<(Snn, VarMap)> {
    config.check()?;
    let varmap = VarMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    {
        let mut data = varmap
            .data()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, (o, i)) in layer_names(config).into_iter().zip(layer_shapes(config)) {
            let (w, b) = init_layer(config.init, o, i, &mut rng);
            let w = Tensor::from_vec(w, (o, i), device)?.to_dtype(dtype)?;
            let b = Tensor::from_vec(b, o, device)?.to_dtype(dtype)?;
            data.insert(format!("{name}.weight"), Var::from_tensor(&w)?);
            data.insert(format!("{name}.bias"), Var::from_tensor(&b)?);
        }
    }
    let vb = VarBuilder::from_varmap(&varmap, dtype, device);
    let net = snn(config, seed.wrapping_add(1), vb)?;
    Ok((net, varmap))
}

fn init_layer(init: Init, out: usize, inp: usize, rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>) {
    let n = out * inp;
    match init {
        Init::LecunNormal => {
            let std = (1.0 / inp as f64).sqrt();
            (
                (0..n).map(|_| std * standard_normal(rng)).collect(),
                vec![0.0; out],
            )
        }
        Init::PytorchDefault => {
            let bound = 1.0 / (inp as f64).sqrt();
            let w = (0..n).map(|_| rng.gen_range(-bound..bound)).collect();
            let b = (0..out).map(|_| rng.gen_range(-bound..bound)).collect();
            (w, b)
        }
    }
}

/// One N(0, 1) draw (Box–Muller, cosine branch).
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

//! What every stage needs: the output folder, the settings, the device, logging and progress bars.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::budget::BudgetSettings;
use super::stage::Stage;
use super::PipelineConfig;

/// The compute device of the networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// The CPU.
    Cpu,
    /// CUDA device 0 (needs the `cuda` feature).
    Cuda,
}

impl DeviceKind {
    /// Parses `cpu` or `cuda`.
    ///
    /// # Errors
    /// Any other text.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" | "gpu" => Ok(DeviceKind::Cuda),
            other => anyhow::bail!("device `{other}`: expected cpu or cuda"),
        }
    }

    /// The candle device.
    ///
    /// # Errors
    /// CUDA asked for in a build without the `cuda` feature, or no usable GPU.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceKind::Cpu => Ok(Device::Cpu),
            DeviceKind::Cuda => {
                if !cfg!(feature = "cuda") {
                    anyhow::bail!("--device cuda: this binary was built without CUDA; rebuild with `--features cuda`");
                }
                Device::new_cuda(0).context("--device cuda: no usable CUDA device 0")
            }
        }
    }
}

/// The run's shared state.
#[derive(Debug)]
pub struct Context {
    /// The output folder.
    pub out: PathBuf,
    /// The MAMA-MIA root the run reads (`--data`, or `<out>/cohort`).
    pub data_root: PathBuf,
    /// Whether the data set is the generated cohort.
    pub synthetic: bool,
    /// The run's configuration.
    pub config: PipelineConfig,
    /// The effective budget settings.
    pub settings: BudgetSettings,
    /// The networks' device.
    pub device: Device,
}

impl Context {
    /// Builds the context (creates the output folder).
    ///
    /// # Errors
    /// The device cannot be opened or the folder cannot be created.
    pub fn new(config: &PipelineConfig, settings: BudgetSettings) -> Result<Self> {
        let device = config.device.device()?;
        std::fs::create_dir_all(&config.out)
            .with_context(|| format!("creating {}", config.out.display()))?;
        let (data_root, synthetic) = match &config.data {
            Some(d) => (d.clone(), false),
            None => (config.out.join("cohort"), true),
        };
        Ok(Context {
            out: config.out.clone(),
            data_root,
            synthetic,
            config: config.clone(),
            settings,
            device,
        })
    }

    /// `<out>/<stage name>`.
    #[must_use]
    pub fn stage_dir(&self, stage: Stage) -> PathBuf {
        self.out.join(stage.name())
    }

    /// Logs one line to standard error.
    pub fn log(&self, message: &str) {
        eprintln!("[pipeline] {message}");
    }

    /// A progress bar of `len` steps (hidden when progress is off).
    #[must_use]
    pub fn progress(&self, len: u64, message: &str) -> ProgressBar {
        if !self.config.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>24} [{bar:32}] {pos}/{len} {elapsed_precise} (eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        bar
    }
}

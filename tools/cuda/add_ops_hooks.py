"""Adds the `#[cfg(feature = "cuda")]` hooks that route mednext's custom ops to the CUDA launch wrappers of
`crates/mednext/src/ops/cuda/` (issue #9), into the op files that another engineer owned while the kernels were
written. The script is idempotent: a file that already has the marker is left alone.

    python3 tools/cuda/add_ops_hooks.py [repo root, default: this checkout]

It makes these changes:
* `ops/mod.rs`: adds `#[cfg(feature = "cuda")] pub(crate) mod cuda;` after `mod conv;`;
* `ops/storage.rs`: `check_f32_cpu` accepts CUDA tensors when the feature is on;
* it adds one `cuda_fwd` per custom op, placed after that op's `fn name`:
  - `Depthwise` (CustomOp2/3) and `Kernel` (`conv.rs`);
  - `GroupNorm`, `Coefficients` and `InputGrad` (`norm.rs`);
  - `Gelu`, `GeluGrad`, `BiasGelu` and `BiasGeluGrad` (`gelu.rs`);
  - `ChannelSum`, `AddBias` and `Resample2` (`channel.rs`);
  - `Pointwise` (CustomOp2/3, `pointwise_kernel.rs`).

The fused block tail (`block_tail.rs`) runs on the CPU only: `MedNextBlock::is_fused` is false on other
devices, and those devices use the separate ops above. Run `cargo fmt` afterwards.
"""
import sys, pathlib
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2]) / "crates/mednext/src/ops"
MARK = "// -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --"
A2 = "s1: &CudaStorage, l1: &Layout, s2: &CudaStorage, l2: &Layout"
A3 = A2 + ", s3: &CudaStorage, l3: &Layout"
def op1(body): return f"""
    {MARK}
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout) -> Result<(CudaStorage, Shape)> {{
        {body}
    }}
"""
def op2(body): return f"""
    {MARK}
    #[cfg(feature = "cuda")]
    fn cuda_fwd({A2.replace('s1','&self, s1',1)}) -> Result<(CudaStorage, Shape)> {{
        {body}
    }}
"""
def op3(body): return f"""
    {MARK}
    #[cfg(feature = "cuda")]
    fn cuda_fwd({A3.replace('s1','&self, s1',1)}) -> Result<(CudaStorage, Shape)> {{
        {body}
    }}
"""
STORAGE_OLD = "    if !matches!(t.device(), Device::Cpu) {"
STORAGE_NEW = """    // CUDA tensors are accepted when the `cuda` feature provides the kernels (`ops/cuda/`).
    if !(matches!(t.device(), Device::Cpu) || (cfg!(feature = "cuda") && t.device().is_cuda())) {"""
MODLINE_AFTER = "mod conv;\n"
MODLINE = '#[cfg(feature = "cuda")]\npub(crate) mod cuda;\n'
IMPORT = '#[cfg(feature = "cuda")]\nuse candle_core::CudaStorage;\n'
EDITS = {
  "conv.rs": [
    ("impl CustomOp2 for Depthwise {", op2("self.cuda((s1, l1), (s2, l2), None)")),
    ("impl CustomOp3 for Depthwise {", op3("self.cuda((s1, l1), (s2, l2), Some((s3, l3)))")),
    ("impl CustomOp2 for Kernel {", op2("""let (a, b, k, s) = ((s1, l1), (s2, l2), self.k, self.stride);
        match self.pass {
            Pass::Forward => super::cuda::depthwise_forward(a, b, None, k, s),
            Pass::InputGrad(out) => super::cuda::depthwise_input_grad(a, b, None, k, s, out),
            Pass::WeightGrad => super::cuda::depthwise_weight_grad(a, b, k, s),
        }""")),
  ],
  "norm.rs": [
    ("impl CustomOp3 for GroupNorm {", op3("super::cuda::group_norm((s1, l1), (s2, l2), (s3, l3), self.eps)")),
    ("impl CustomOp3 for Coefficients {", op3("super::cuda::group_norm_coefficients((s1, l1), (s2, l2), (s3, l3), self.eps)")),
    ("impl CustomOp3 for InputGrad {", op3("super::cuda::group_norm_input_grad((s1, l1), (s2, l2), (s3, l3))")),
  ],
  "gelu.rs": [
    ("impl CustomOp1 for Gelu {", op1("super::cuda::gelu((s1, l1))")),
    ("impl CustomOp2 for GeluGrad {", op2("super::cuda::gelu_grad((s1, l1), (s2, l2))")),
    ("impl CustomOp2 for BiasGelu {", op2("super::cuda::bias_gelu((s1, l1), (s2, l2))")),
    ("impl CustomOp3 for BiasGeluGrad {", op3("super::cuda::bias_gelu_grad((s1, l1), (s2, l2), (s3, l3))")),
  ],
  "channel.rs": [
    ("impl CustomOp1 for ChannelSum {", op1("super::cuda::channel_sum((s1, l1))")),
    ("impl CustomOp2 for AddBias {", op2("super::cuda::add_bias((s1, l1), (s2, l2))")),
    ("impl CustomOp1 for Resample2 {", op1("super::cuda::resample2((s1, l1), self.up, self.src, self.dst)")),
  ],
  "pointwise_kernel.rs": [
    ("impl CustomOp2 for Pointwise {", op2("super::cuda::pointwise((s1, l1), (s2, l2), None)")),
    ("impl CustomOp3 for Pointwise {", op3("super::cuda::pointwise((s1, l1), (s2, l2), Some((s3, l3)))")),
  ],
}
DEPTHWISE_HELPER = f"""
    {MARK}
    #[cfg(feature = "cuda")]
    fn cuda(
        &self,
        x: super::cuda::Arg,
        w: super::cuda::Arg,
        b: Option<super::cuda::Arg>,
    ) -> Result<(CudaStorage, Shape)> {{
        match self.dir {{
            Direction::Conv => super::cuda::depthwise_forward(x, w, b, self.k, self.stride),
            Direction::Transposed => {{
                let xd = dims5(self.name(), "x", x.1.shape())?;
                let out =
                    [xd[2], xd[3], xd[4]].map(|l| conv_transpose_out_len(l, self.k, self.stride));
                super::cuda::depthwise_input_grad(x, w, b, self.k, self.stride, out)
            }}
        }}
    }}
"""
for fname, edits in EDITS.items():
    p = root / fname
    s = p.read_text()
    if MARK in s:
        print(f"{fname}: hooks already present"); continue
    for header, code in edits:
        i = s.index(header)
        # end of the first method (`fn name`) of this impl
        j = s.index("\n    }\n", i) + len("\n    }\n")
        s = s[:j] + code + s[j:]
    if fname == "conv.rs":
        i = s.index("impl Depthwise {")
        j = s.index("\n    fn name(&self)", i)
        s = s[:j] + "\n" + DEPTHWISE_HELPER.rstrip("\n") + "\n" + s[j:]
    # the import after the last `use super::...;` line block
    k = s.index("\nuse super::")
    k = s.index("\n\n", k)
    s = s[:k] + "\n" + IMPORT.rstrip("\n") + s[k:]
    p.write_text(s)
    print(f"{fname}: {len(edits)} hooks")

st = root / "storage.rs"
s2 = st.read_text()
if STORAGE_OLD in s2:
    st.write_text(s2.replace(STORAGE_OLD, STORAGE_NEW, 1)); print("storage.rs: CUDA accepted")
md = root / "mod.rs"
s3 = md.read_text()
if "mod cuda;" not in s3:
    md.write_text(s3.replace(MODLINE_AFTER, MODLINE_AFTER + MODLINE, 1)); print("mod.rs: cuda module declared")

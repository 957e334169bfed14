//! The BERT encoder, written for sentence embeddings on the CPU.
//!
//! A general tensor library runs a BERT layer as a dozen separate passes over memory (bias,
//! scaling, mask, softmax in five steps, residual, GELU), each with a fresh allocation; in a
//! 6-layer model of 384 dimensions those passes and allocations cost as much as the matrix
//! products. Here the products are `faer` matrix multiplications into buffers kept for the
//! whole batch, and everything between them is one fused loop per step, compiled for the
//! processor's vector instructions. Texts are *packed*: the tokens of all texts of a batch
//! are rows of one matrix, with no padding, since only attention looks across tokens and it
//! is done text by text. A batch of texts of unequal length costs what its real tokens cost.

use std::ops::Range;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use safetensors::{Dtype, SafeTensors};

/// Why the weights could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WeightsError {
    #[error("not a safetensors file: {0}")]
    Format(String),
    #[error("no tensor named {0}")]
    Missing(String),
    #[error("{name} is {found:?}, {expected:?} expected")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{name} holds {dtype:?} values; only F32 is read")]
    Dtype { name: String, dtype: Dtype },
    #[error("{hidden} dimensions cannot be split into {heads} heads")]
    Heads { hidden: usize, heads: usize },
}

/// A row-major matrix.
struct Matrix {
    values: Vec<f32>,
    rows: usize,
    columns: usize,
}

impl Matrix {
    fn view(&self) -> MatRef<'_, f32> {
        MatRef::from_row_major_slice(&self.values, self.rows, self.columns)
    }
}

/// One encoder layer's weights; matrices are stored `in × out`, ready for `x · W`.
struct Layer {
    qkv: Matrix,
    qkv_bias: Vec<f32>,
    attention_out: Matrix,
    attention_out_bias: Vec<f32>,
    attention_norm: Norm,
    intermediate: Matrix,
    intermediate_bias: Vec<f32>,
    output: Matrix,
    output_bias: Vec<f32>,
    output_norm: Norm,
}

/// Layer normalisation's scale and shift.
struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// The shape numbers the forward pass needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub max_positions: usize,
    pub layer_norm_eps: f32,
}

/// A BERT encoder's weights in memory.
pub(crate) struct Encoder {
    shape: Shape,
    words: Matrix,
    positions: Matrix,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    /// The vector instructions this processor offers, found once.
    arch: pulp::Arch,
}

/// Named tensors of a safetensors file, with or without a `bert.` prefix on their names.
struct Weights<'a>(SafeTensors<'a>);

impl Weights<'_> {
    /// The values of `name`, which must have the shape `expected`.
    fn values(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let view = self
            .0
            .tensor(name)
            .or_else(|_| self.0.tensor(&format!("bert.{name}")))
            .map_err(|_| WeightsError::Missing(name.to_owned()))?;
        if view.shape() != expected {
            return Err(WeightsError::Shape {
                name: name.to_owned(),
                found: view.shape().to_vec(),
                expected: expected.to_vec(),
            });
        }
        if view.dtype() != Dtype::F32 {
            return Err(WeightsError::Dtype {
                name: name.to_owned(),
                dtype: view.dtype(),
            });
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn matrix(&self, name: &str, rows: usize, columns: usize) -> Result<Matrix, WeightsError> {
        Ok(Matrix {
            values: self.values(name, &[rows, columns])?,
            rows,
            columns,
        })
    }

    /// A linear layer's `[out, in]` weight, transposed to `in × out`.
    fn linear(&self, name: &str, inputs: usize, outputs: usize) -> Result<Matrix, WeightsError> {
        let weight = self.values(name, &[outputs, inputs])?;
        let mut values = vec![0f32; inputs * outputs];
        for (o, row) in weight.chunks_exact(inputs).enumerate() {
            for (i, &w) in row.iter().enumerate() {
                values[i * outputs + o] = w;
            }
        }
        Ok(Matrix {
            values,
            rows: inputs,
            columns: outputs,
        })
    }

    fn norm(&self, prefix: &str, len: usize) -> Result<Norm, WeightsError> {
        Ok(Norm {
            weight: self.values(&format!("{prefix}.weight"), &[len])?,
            bias: self.values(&format!("{prefix}.bias"), &[len])?,
        })
    }
}

/// The working memory of one forward pass, sized for its tokens and used by every layer.
struct Buffers {
    x: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
}

impl Encoder {
    /// Builds the encoder from the bytes of a `model.safetensors` file.
    pub(crate) fn from_safetensors(bytes: &[u8], shape: Shape) -> Result<Self, WeightsError> {
        let weights =
            Weights(SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?);
        let hidden = shape.hidden;
        if shape.heads == 0 || !hidden.is_multiple_of(shape.heads) {
            return Err(WeightsError::Heads {
                hidden,
                heads: shape.heads,
            });
        }
        let vocabulary = weights
            .0
            .tensor("embeddings.word_embeddings.weight")
            .or_else(|_| weights.0.tensor("bert.embeddings.word_embeddings.weight"))
            .map(|view| view.shape().first().copied().unwrap_or(0))
            .map_err(|_| WeightsError::Missing("embeddings.word_embeddings.weight".to_owned()))?;
        let words = weights.matrix("embeddings.word_embeddings.weight", vocabulary, hidden)?;
        let positions = weights.matrix(
            "embeddings.position_embeddings.weight",
            shape.max_positions,
            hidden,
        )?;
        let token_types = weights.matrix("embeddings.token_type_embeddings.weight", 2, hidden)?;
        let token_type = token_types.values[..hidden].to_vec();
        let embedding_norm = weights.norm("embeddings.LayerNorm", hidden)?;
        let mut layers = Vec::with_capacity(shape.layers);
        for index in 0..shape.layers {
            let p = format!("encoder.layer.{index}");
            let attention = format!("{p}.attention");
            let query = weights.linear(&format!("{attention}.self.query.weight"), hidden, hidden)?;
            let key = weights.linear(&format!("{attention}.self.key.weight"), hidden, hidden)?;
            let value = weights.linear(&format!("{attention}.self.value.weight"), hidden, hidden)?;
            // Query, key and value side by side: one product gives all three.
            let mut qkv = Vec::with_capacity(hidden * 3 * hidden);
            for row in 0..hidden {
                for part in [&query, &key, &value] {
                    qkv.extend_from_slice(&part.values[row * hidden..(row + 1) * hidden]);
                }
            }
            let mut qkv_bias = weights.values(&format!("{attention}.self.query.bias"), &[hidden])?;
            qkv_bias.extend(weights.values(&format!("{attention}.self.key.bias"), &[hidden])?);
            qkv_bias.extend(weights.values(&format!("{attention}.self.value.bias"), &[hidden])?);
            layers.push(Layer {
                qkv: Matrix {
                    values: qkv,
                    rows: hidden,
                    columns: 3 * hidden,
                },
                qkv_bias,
                attention_out: weights.linear(&format!("{attention}.output.dense.weight"), hidden, hidden)?,
                attention_out_bias: weights.values(&format!("{attention}.output.dense.bias"), &[hidden])?,
                attention_norm: weights.norm(&format!("{attention}.output.LayerNorm"), hidden)?,
                intermediate: weights.linear(
                    &format!("{p}.intermediate.dense.weight"),
                    hidden,
                    shape.intermediate,
                )?,
                intermediate_bias: weights
                    .values(&format!("{p}.intermediate.dense.bias"), &[shape.intermediate])?,
                output: weights.linear(&format!("{p}.output.dense.weight"), shape.intermediate, hidden)?,
                output_bias: weights.values(&format!("{p}.output.dense.bias"), &[hidden])?,
                output_norm: weights.norm(&format!("{p}.output.LayerNorm"), hidden)?,
            });
        }
        Ok(Self {
            shape,
            words,
            positions,
            token_type,
            embedding_norm,
            layers,
            arch: pulp::Arch::new(),
        })
    }

    /// Mean-pooled, unit-length vectors for texts given as token ids (each cut to
    /// `max_positions`); an empty text gets a zero vector. `par` is the products' own
    /// parallelism: sequential when the caller already runs one batch per core.
    pub(crate) fn embed(&self, texts: &[&[u32]], par: Par) -> Vec<Vec<f32>> {
        let hidden = self.shape.hidden;
        let mut spans = Vec::with_capacity(texts.len());
        let mut start = 0;
        for ids in texts {
            let len = ids.len().min(self.shape.max_positions);
            spans.push(start..start + len);
            start += len;
        }
        let rows = start;
        let mut buffers = Buffers {
            x: vec![0f32; rows * hidden],
            qkv: vec![0f32; rows * 3 * hidden],
            context: vec![0f32; rows * hidden],
            attended: vec![0f32; rows * hidden],
            inner: vec![0f32; rows * self.shape.intermediate],
        };
        for (ids, span) in texts.iter().zip(&spans) {
            for (position, (&id, row)) in ids
                .iter()
                .zip(buffers.x[span.start * hidden..span.end * hidden].chunks_exact_mut(hidden))
                .enumerate()
            {
                let id = (id as usize).min(self.words.rows.saturating_sub(1));
                let word = &self.words.values[id * hidden..(id + 1) * hidden];
                let place = &self.positions.values[position * hidden..(position + 1) * hidden];
                for (((out, w), p), t) in row.iter_mut().zip(word).zip(place).zip(&self.token_type) {
                    *out = w + p + t;
                }
            }
        }
        self.arch.dispatch(Kernel::Norm {
            x: &mut buffers.x,
            norm: &self.embedding_norm,
            eps: self.shape.layer_norm_eps,
        });
        for layer in &self.layers {
            self.layer(layer, &mut buffers, rows, &spans, par);
        }
        spans
            .iter()
            .map(|span| {
                let mut mean = vec![0f32; hidden];
                for row in buffers.x[span.start * hidden..span.end * hidden].chunks_exact(hidden) {
                    for (m, v) in mean.iter_mut().zip(row) {
                        *m += v;
                    }
                }
                let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                for m in &mut mean {
                    *m /= norm;
                }
                mean
            })
            .collect()
    }

    /// One layer, from `buffers.x` back into `buffers.x`.
    fn layer(&self, layer: &Layer, buffers: &mut Buffers, rows: usize, spans: &[Range<usize>], par: Par) {
        let hidden = self.shape.hidden;
        let eps = self.shape.layer_norm_eps;
        let arch = self.arch;
        product(&buffers.x, rows, &layer.qkv, &mut buffers.qkv, par);
        arch.dispatch(Kernel::Bias {
            x: &mut buffers.qkv,
            bias: &layer.qkv_bias,
        });
        buffers.context.fill(0.0);
        arch.dispatch(Kernel::Attention {
            qkv: &buffers.qkv,
            context: &mut buffers.context,
            hidden,
            heads: self.shape.heads,
            spans,
        });
        product(
            &buffers.context,
            rows,
            &layer.attention_out,
            &mut buffers.attended,
            par,
        );
        arch.dispatch(Kernel::ResidualNorm {
            x: &mut buffers.attended,
            bias: &layer.attention_out_bias,
            residual: &buffers.x,
            norm: &layer.attention_norm,
            eps,
        });
        product(
            &buffers.attended,
            rows,
            &layer.intermediate,
            &mut buffers.inner,
            par,
        );
        arch.dispatch(Kernel::BiasGelu {
            x: &mut buffers.inner,
            bias: &layer.intermediate_bias,
        });
        product(&buffers.inner, rows, &layer.output, &mut buffers.x, par);
        arch.dispatch(Kernel::ResidualNorm {
            x: &mut buffers.x,
            bias: &layer.output_bias,
            residual: &buffers.attended,
            norm: &layer.output_norm,
            eps,
        });
    }
}

/// `out = x · w` for a row-major `rows × w.rows` matrix `x`.
fn product(x: &[f32], rows: usize, w: &Matrix, out: &mut [f32], par: Par) {
    let x = MatRef::from_row_major_slice(x, rows, w.rows);
    let out = MatMut::from_row_major_slice_mut(out, rows, w.columns);
    matmul(out, Accum::Replace, x, w.view(), 1.0, par);
}

/// The steps between the matrix products. Each is run through `pulp::Arch::dispatch`, which
/// compiles it (and the helpers below, all inlined) once per instruction set and picks the
/// widest the processor has at run time (AVX2 and FMA, or AVX-512, on most x86 machines);
/// a plain build would use SSE2 only.
enum Kernel<'a> {
    Norm {
        x: &'a mut [f32],
        norm: &'a Norm,
        eps: f32,
    },
    Bias {
        x: &'a mut [f32],
        bias: &'a [f32],
    },
    BiasGelu {
        x: &'a mut [f32],
        bias: &'a [f32],
    },
    ResidualNorm {
        x: &'a mut [f32],
        bias: &'a [f32],
        residual: &'a [f32],
        norm: &'a Norm,
        eps: f32,
    },
    Attention {
        qkv: &'a [f32],
        context: &'a mut [f32],
        hidden: usize,
        heads: usize,
        spans: &'a [Range<usize>],
    },
}

impl pulp::WithSimd for Kernel<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        match self {
            Kernel::Norm { x, norm, eps } => layer_norm(x, norm, eps),
            Kernel::Bias { x, bias } => add_bias(x, bias),
            Kernel::BiasGelu { x, bias } => bias_gelu(x, bias),
            Kernel::ResidualNorm {
                x,
                bias,
                residual,
                norm,
                eps,
            } => {
                add_bias_residual(x, bias, residual);
                layer_norm(x, norm, eps);
            }
            Kernel::Attention {
                qkv,
                context,
                hidden,
                heads,
                spans,
            } => attention(qkv, context, hidden, heads, spans),
        }
    }
}

#[inline(always)]
fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

#[inline(always)]
fn add_bias_residual(x: &mut [f32], bias: &[f32], residual: &[f32]) {
    for (row, res) in x
        .chunks_exact_mut(bias.len())
        .zip(residual.chunks_exact(bias.len()))
    {
        for ((v, b), r) in row.iter_mut().zip(bias).zip(res) {
            *v += b + r;
        }
    }
}

#[inline(always)]
/// Bias, then GELU with the error function (BERT's "gelu").
fn bias_gelu(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let z = *v + b;
            *v = 0.5 * z * (1.0 + erf(z * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// The error function to about 1e-7 (Abramowitz and Stegun 7.1.26), enough for `f32`.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly =
        t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-a * a);
    y.copysign(x)
}

/// `e^x` to a relative 2e-7 in branch-free arithmetic the compiler can vectorise (the
/// library `expf` is a call per value): `x = n·ln 2 + r`, a Taylor polynomial for `e^r`
/// on `|r| ≤ ln 2 / 2`, and `2^n` built in the exponent bits.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Adding and taking away 1.5·2²³ rounds to the nearest integer without a `floor` call.
    let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn layer_norm(x: &mut [f32], norm: &Norm, eps: f32) {
    let width = norm.weight.len();
    for row in x.chunks_exact_mut(width) {
        let mean = sum(row) / width as f32;
        let mut squares = [0f32; 8];
        for chunk in row.chunks_exact(8) {
            for (s, v) in squares.iter_mut().zip(chunk) {
                *s += (v - mean) * (v - mean);
            }
        }
        let tail: f32 = row
            .chunks_exact(8)
            .remainder()
            .iter()
            .map(|v| (v - mean) * (v - mean))
            .sum();
        let variance = (squares.iter().sum::<f32>() + tail) / width as f32;
        let scale = 1.0 / (variance + eps).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
            *v = (*v - mean) * scale * w + b;
        }
    }
}

#[inline(always)]
/// Multi-head self-attention within each text: `qkv` holds, per token row, the query, key
/// and value vectors side by side; the result is the `rows × hidden` context. Keys are
/// copied out transposed per head so that every inner loop runs over contiguous memory
/// without a sum across lanes, which the compiler turns into vector instructions.
fn attention(qkv: &[f32], context: &mut [f32], hidden: usize, heads: usize, spans: &[Range<usize>]) {
    let width = 3 * hidden;
    let head = hidden / heads;
    let scale = 1.0 / (head as f32).sqrt();
    let mut keys = Vec::new();
    let mut scores = Vec::new();
    for span in spans {
        let len = span.len();
        let text = &qkv[span.start * width..span.end * width];
        let out = &mut context[span.start * hidden..span.end * hidden];
        for h in 0..heads {
            let (q_at, k_at, v_at) = (h * head, hidden + h * head, 2 * hidden + h * head);
            keys.clear();
            keys.resize(head * len, 0.0);
            for (j, token) in text.chunks_exact(width).enumerate() {
                for (c, &k) in token[k_at..k_at + head].iter().enumerate() {
                    keys[c * len + j] = k * scale;
                }
            }
            for (i, token) in text.chunks_exact(width).enumerate() {
                scores.clear();
                scores.resize(len, 0.0);
                for (&q, key_row) in token[q_at..q_at + head].iter().zip(keys.chunks_exact(len)) {
                    for (s, &k) in scores.iter_mut().zip(key_row) {
                        *s += q * k;
                    }
                }
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                for s in &mut scores {
                    *s = exp(*s - max);
                }
                let total: f32 = sum(&scores);
                let target = &mut out[i * hidden + h * head..i * hidden + (h + 1) * head];
                for (&p, value_token) in scores.iter().zip(text.chunks_exact(width)) {
                    let weight = p / total;
                    for (t, &v) in target.iter_mut().zip(&value_token[v_at..v_at + head]) {
                        *t += weight * v;
                    }
                }
            }
        }
    }
}

/// A sum in eight lanes, so that it is vectorised (a plain running sum is one long chain).
#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (l, v) in lanes.iter_mut().zip(chunk) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

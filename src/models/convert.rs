//! CTranslate2 → ggml conversion of Whisper weights.
//!
//! The wheels Helpline fetches carry Whisper as a CTranslate2 model directory (faster-whisper's format);
//! whisper.cpp wants one ggml `.bin` file, the layout written by whisper.cpp's `convert-pt-to-ggml.py`:
//!
//! ```text
//! u32 magic 0x67676d6c ("ggml")
//! i32 × 11 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
//!                   n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (1 = mostly f16)
//! i32 n_mel, i32 n_bins, f32 × n_mel·n_bins   mel filterbank
//! i32 n_tokens, then per token: i32 len, bytes
//! tensors until EOF: i32 n_dims, i32 name_len, i32 type (0 f32, 1 f16), i32 × n_dims dims (reversed), name, data
//! ```
//!
//! CTranslate2 keeps PyTorch's layouts (Linear `(out, in)`, Conv1d `(out, in, k)`), so no tensor is
//! transposed: ggml's dimension order is simply the shape reversed. What does change is naming and
//! fusion: CTranslate2 fuses self-attention's `[q; k; v]` and cross-attention's `[k; v]` projections
//! into one matrix, which are split here along the first axis (a contiguous byte range).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use half::{bf16, f16};

/// Why a conversion failed. Each message names the file, what was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("CTranslate2 model directory {dir} does not exist; run `helpline models fetch` to fetch it")]
    MissingDir { dir: PathBuf },
    #[error("{path} is missing from the CTranslate2 model directory; run `helpline models fetch` to fetch it again")]
    MissingFile { path: PathBuf },
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is corrupt or truncated at byte {offset}: {what}; delete it and run `helpline models fetch` again"
    )]
    Corrupt { path: PathBuf, offset: usize, what: String },
    #[error("{path} is not a Whisper model this converter understands: {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("could not write {path}: {source}; check that the directory is writable and the disk has space")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Convert the CTranslate2 Whisper model in `ct2_dir` (`model.bin` and `vocabulary.txt`) into a
/// whisper.cpp ggml file at `out`.
///
/// The file is written beside `out` under a temporary name and renamed into place at the end, so an
/// interrupted conversion never leaves a half-written model. The same input always gives the same bytes.
pub fn convert_ct2_to_ggml(ct2_dir: &Path, out: &Path) -> Result<(), ConvertError> {
    if !ct2_dir.is_dir() {
        return Err(ConvertError::MissingDir { dir: ct2_dir.to_path_buf() });
    }
    let model_path = ct2_dir.join("model.bin");
    let vocab_path = ct2_dir.join("vocabulary.txt");
    let model_bytes = read_file(&model_path)?;
    let vocab_text = read_file(&vocab_path)?;

    let model = Ct2Model::parse(&model_path, &model_bytes)?;
    let tensors = plan_tensors(&model)?;
    let tokens = gpt2_tokens(&vocab_path, &vocab_text, model.hparams.n_vocab)?;

    let file_name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let tmp = out.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let write_err = |source| ConvertError::Write { path: out.to_path_buf(), source };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_err)?;
    }
    let written = write_ggml(&tmp, &model.hparams, &tokens, &tensors).and_then(|()| std::fs::rename(&tmp, out));
    if let Err(source) = written {
        // Best effort: the temporary file is useless, and its removal failing changes nothing for the caller.
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(source));
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Vec<u8>, ConvertError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConvertError::MissingFile { path: path.to_path_buf() },
        _ => ConvertError::Read { path: path.to_path_buf(), source },
    })
}

// ---------------------------------------------------------------------------------------------------
// CTranslate2 model.bin
// ---------------------------------------------------------------------------------------------------

/// The element types of CTranslate2's `DataType` enum, in its id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_id(id: u8) -> Option<Self> {
        [Self::F32, Self::I8, Self::I16, Self::I32, Self::F16, Self::BF16].get(usize::from(id)).copied()
    }

    fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One named variable of `model.bin`; `data` borrows the file's bytes (little-endian, row-major).
struct Variable<'a> {
    shape: Vec<usize>,
    dtype: DType,
    data: &'a [u8],
}

/// The dimensions whisper.cpp reads from the file header, in its order.
struct HParams {
    n_vocab: usize,
    n_audio_ctx: usize,
    n_audio_state: usize,
    n_audio_head: usize,
    n_audio_layer: usize,
    n_text_ctx: usize,
    n_text_state: usize,
    n_text_head: usize,
    n_text_layer: usize,
    n_mels: usize,
}

struct Ct2Model<'a> {
    path: &'a Path,
    variables: BTreeMap<String, Variable<'a>>,
    hparams: HParams,
}

/// A strict little-endian cursor over `model.bin`: every read is bounds-checked and reports the offset.
struct Reader<'a> {
    path: &'a Path,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, what: impl Into<String>) -> ConvertError {
        ConvertError::Corrupt { path: self.path.to_path_buf(), offset: self.pos, what: what.into() }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ConvertError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len()).ok_or_else(|| {
            self.corrupt(format!("{what} needs {n} bytes but the file ends after {}", self.buf.len() - self.pos))
        })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ConvertError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ConvertError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ConvertError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// CTranslate2 strings: u16 length counting a trailing NUL, the UTF-8 bytes, the NUL.
    fn string(&mut self, what: &str) -> Result<String, ConvertError> {
        let len = usize::from(self.u16(what)?);
        let start = self.pos;
        let bytes = self.take(len, what)?;
        match bytes.split_last() {
            Some((0, text)) => String::from_utf8(text.to_vec()).map_err(|_| ConvertError::Corrupt {
                path: self.path.to_path_buf(),
                offset: start,
                what: format!("{what} is not UTF-8"),
            }),
            _ => Err(ConvertError::Corrupt {
                path: self.path.to_path_buf(),
                offset: start,
                what: format!("{what} is not a NUL-terminated string"),
            }),
        }
    }
}

impl<'a> Ct2Model<'a> {
    /// Parse the layout of CTranslate2's `ModelSpec._serialize` (binary version 6):
    /// u32 version, string spec name, u32 spec revision, u32 variable count, then per variable
    /// (string name, u8 rank, u32 × rank dims, u8 dtype id, u32 byte count, data), then u32 alias
    /// count and (alias, target) string pairs. Small attributes such as `num_heads` are rank-0 variables.
    fn parse(path: &'a Path, buf: &'a [u8]) -> Result<Self, ConvertError> {
        let mut r = Reader { path, buf, pos: 0 };
        let version = r.u32("the binary version")?;
        if version != 6 {
            let what = format!("CTranslate2 binary version {version}, but only version 6 is read; fetch it again");
            return Err(unsupported(path, what));
        }
        let spec = r.string("the model spec name")?;
        if spec != "WhisperSpec" {
            return Err(unsupported(path, format!("the model is a {spec}, not a WhisperSpec")));
        }
        let _revision = r.u32("the spec revision")?;

        let count = r.u32("the variable count")?;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = r.string("a variable name")?;
            let rank = r.u8("the rank")?;
            let shape = (0..rank).map(|_| r.u32("a dimension").map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
            let id = r.u8("the dtype")?;
            let dtype =
                DType::from_id(id).ok_or_else(|| r.corrupt(format!("variable {name} has unknown dtype id {id}")))?;
            let n_bytes = r.u32("the byte count")? as usize;
            let expected = shape.iter().try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
            if expected != Some(n_bytes) {
                return Err(r.corrupt(format!("variable {name} of shape {shape:?} ({dtype:?}) claims {n_bytes} bytes")));
            }
            let data = r.take(n_bytes, &format!("the data of {name}"))?;
            if variables.insert(name.clone(), Variable { shape, dtype, data }).is_some() {
                return Err(r.corrupt(format!("variable {name} appears twice")));
            }
        }
        // Aliases (here the decoder's output projection, which is the token embedding) are checked for
        // well-formedness only: whisper.cpp ties the projection to the embedding itself.
        let aliases = r.u32("the alias count")?;
        for _ in 0..aliases {
            r.string("an alias name")?;
            r.string("an alias target")?;
        }
        if r.pos != buf.len() {
            return Err(r.corrupt(format!("{} unexpected bytes after the last alias", buf.len() - r.pos)));
        }

        let hparams = HParams::read(path, &variables)?;
        Ok(Self { path, variables, hparams })
    }

    fn var(&self, name: &str) -> Result<&Variable<'a>, ConvertError> {
        var(self.path, &self.variables, name)
    }
}

type Variables<'a> = BTreeMap<String, Variable<'a>>;

fn var<'v, 'a>(path: &Path, variables: &'v Variables<'a>, name: &str) -> Result<&'v Variable<'a>, ConvertError> {
    variables.get(name).ok_or_else(|| unsupported(path, format!("variable {name} is missing")))
}

impl HParams {
    /// Every dimension whisper.cpp needs comes from a tensor shape, except the head counts.
    fn read(path: &Path, variables: &Variables) -> Result<Self, ConvertError> {
        let shape2 = |name: &str| -> Result<[usize; 2], ConvertError> {
            match var(path, variables, name)?.shape[..] {
                [a, b] => Ok([a, b]),
                ref s => Err(unsupported(path, format!("{name} has shape {s:?}, expected 2 dimensions"))),
            }
        };
        let [n_vocab, n_text_state] = shape2("decoder/embeddings/weight")?;
        let [n_text_ctx, _] = shape2("decoder/position_encodings/encodings")?;
        let [n_audio_ctx, _] = shape2("encoder/position_encodings/encodings")?;
        let (n_audio_state, n_mels) = match var(path, variables, "encoder/conv1/weight")?.shape[..] {
            [out, mels, 3] => (out, mels),
            ref s => {
                return Err(unsupported(
                    path,
                    format!("encoder/conv1/weight has shape {s:?}, expected (n_state, n_mels, 3)"),
                ))
            }
        };
        if n_audio_state != n_text_state {
            return Err(unsupported(
                path,
                format!("encoder width {n_audio_state} differs from decoder width {n_text_state}"),
            ));
        }
        let n_audio_head = int_attr(path, variables, "encoder/num_heads")?;
        let n_text_head = int_attr(path, variables, "decoder/num_heads")?;
        if n_audio_state % n_audio_head != 0 || n_text_state % n_text_head != 0 {
            return Err(unsupported(
                path,
                format!("width {n_audio_state} does not split into {n_audio_head}/{n_text_head} heads"),
            ));
        }
        Ok(Self {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head,
            n_audio_layer: count_layers(path, variables, "encoder")?,
            n_text_ctx,
            n_text_state,
            n_text_head,
            n_text_layer: count_layers(path, variables, "decoder")?,
            n_mels,
        })
    }
}

/// A rank-0 integer attribute such as `encoder/num_heads`.
fn int_attr(path: &Path, variables: &Variables, name: &str) -> Result<usize, ConvertError> {
    let v = var(path, variables, name)?;
    let value = match (v.dtype, v.data) {
        (DType::I8, [a]) => i64::from(*a as i8),
        (DType::I16, [a, b]) => i64::from(i16::from_le_bytes([*a, *b])),
        (DType::I32, [a, b, c, d]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
        _ => return Err(unsupported(path, format!("{name} is not an integer scalar"))),
    };
    usize::try_from(value)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| unsupported(path, format!("{name} is {value}")))
}

/// The number of `<side>/layer_<n>/` blocks; they must be numbered 0..n without gaps.
/// (`encoder/layer_norm/…` also starts with `layer_`, hence the digits-then-slash match.)
fn count_layers(path: &Path, variables: &Variables, side: &str) -> Result<usize, ConvertError> {
    let prefix = format!("{side}/layer_");
    let mut layers = std::collections::BTreeSet::new();
    for name in variables.keys() {
        if let Some((index, _)) = name.strip_prefix(&prefix).and_then(|rest| rest.split_once('/')) {
            if let Ok(n) = index.parse::<usize>() {
                layers.insert(n);
            }
        }
    }
    if layers.is_empty() || layers.iter().copied().ne(0..layers.len()) {
        return Err(unsupported(path, format!("{side} layers are numbered {layers:?}, expected 0..n")));
    }
    Ok(layers.len())
}

fn unsupported(path: &Path, what: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported { path: path.to_path_buf(), what: what.into() }
}

// ---------------------------------------------------------------------------------------------------
// Tensor mapping
// ---------------------------------------------------------------------------------------------------

/// How a tensor is stored in the ggml file; whisper.cpp checks each tensor's byte size against the type
/// it expects (matrices and conv kernels f16, vectors and positional embeddings f32).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OutType {
    F32 = 0,
    F16 = 1,
}

/// One tensor of the output file: `data` is a CTranslate2 variable, or a slice of one along its first axis.
struct OutTensor<'a> {
    name: String,
    shape: Vec<usize>,
    out_type: OutType,
    src_type: FloatType,
    data: &'a [u8],
}

/// The float types a tensor may be stored as in `model.bin` (int8-quantized models are refused).
#[derive(Clone, Copy, PartialEq, Eq)]
enum FloatType {
    F32,
    F16,
    BF16,
}

/// The whisper.cpp tensors, in a fixed order, each checked against the shape whisper.cpp expects.
fn plan_tensors<'a>(model: &Ct2Model<'a>) -> Result<Vec<OutTensor<'a>>, ConvertError> {
    let h = &model.hparams;
    let (d, ff) = (h.n_audio_state, 4 * h.n_audio_state);
    let mut out = Vec::new();
    // `shape` is the expected PyTorch shape of the slice; checking it here catches every layout surprise
    // before whisper.cpp would reject the file with a less helpful message.
    let mut add = |name: String, src: &str, part: usize, parts: usize, shape: &[usize], out_type| {
        let var = model.var(src)?;
        let rows = var.shape.first().copied().unwrap_or(1);
        let mut slice_shape = var.shape.clone();
        if let Some(first) = slice_shape.first_mut() {
            *first = rows / parts;
        }
        // A conv bias is a vector in CTranslate2 but `(n_state, 1)` in whisper.cpp: same bytes.
        let same = slice_shape == shape || (slice_shape.len() == 1 && shape == [slice_shape[0], 1]);
        if rows % parts != 0 || !same {
            return Err(unsupported(
                model.path,
                format!("{src} has shape {:?}; expected {parts} × {shape:?} for {name}", var.shape),
            ));
        }
        let src_type = match var.dtype {
            DType::F32 => FloatType::F32,
            DType::F16 => FloatType::F16,
            DType::BF16 => FloatType::BF16,
            other => {
                let what = format!("{src} is stored as {other:?}; only float16/32 models convert, not quantized ones");
                return Err(unsupported(model.path, what));
            }
        };
        let part_bytes = var.data.len() / parts;
        let data = &var.data[part * part_bytes..(part + 1) * part_bytes];
        out.push(OutTensor { name, shape: shape.to_vec(), out_type, src_type, data });
        Ok(())
    };
    use OutType::{F16, F32};

    // Encoder.
    add("encoder.positional_embedding".into(), "encoder/position_encodings/encodings", 0, 1, &[h.n_audio_ctx, d], F32)?;
    add("encoder.conv1.weight".into(), "encoder/conv1/weight", 0, 1, &[d, h.n_mels, 3], F16)?;
    add("encoder.conv1.bias".into(), "encoder/conv1/bias", 0, 1, &[d, 1], F32)?;
    add("encoder.conv2.weight".into(), "encoder/conv2/weight", 0, 1, &[d, d, 3], F16)?;
    add("encoder.conv2.bias".into(), "encoder/conv2/bias", 0, 1, &[d, 1], F32)?;
    for i in 0..h.n_audio_layer {
        let (src, dst) = (format!("encoder/layer_{i}"), format!("encoder.blocks.{i}"));
        add_block(&mut add, &src, &dst, d, ff, false)?;
    }
    add("encoder.ln_post.weight".into(), "encoder/layer_norm/gamma", 0, 1, &[d], F32)?;
    add("encoder.ln_post.bias".into(), "encoder/layer_norm/beta", 0, 1, &[d], F32)?;

    // Decoder. `decoder/projection/weight` is an alias of the embedding and is not written.
    add("decoder.positional_embedding".into(), "decoder/position_encodings/encodings", 0, 1, &[h.n_text_ctx, d], F32)?;
    add("decoder.token_embedding.weight".into(), "decoder/embeddings/weight", 0, 1, &[h.n_vocab, d], F16)?;
    for i in 0..h.n_text_layer {
        let (src, dst) = (format!("decoder/layer_{i}"), format!("decoder.blocks.{i}"));
        add_block(&mut add, &src, &dst, d, ff, true)?;
    }
    add("decoder.ln.weight".into(), "decoder/layer_norm/gamma", 0, 1, &[d], F32)?;
    add("decoder.ln.bias".into(), "decoder/layer_norm/beta", 0, 1, &[d], F32)?;
    Ok(out)
}

/// One transformer block: self-attention, cross-attention (decoder only) and the MLP.
fn add_block<F>(add: &mut F, src: &str, dst: &str, d: usize, ff: usize, cross: bool) -> Result<(), ConvertError>
where
    F: FnMut(String, &str, usize, usize, &[usize], OutType) -> Result<(), ConvertError>,
{
    use OutType::{F16, F32};
    let mut ln = |attn: &str, ln_name: &str| -> Result<(), ConvertError> {
        add(format!("{dst}.{ln_name}.weight"), &format!("{src}/{attn}/layer_norm/gamma"), 0, 1, &[d], F32)?;
        add(format!("{dst}.{ln_name}.bias"), &format!("{src}/{attn}/layer_norm/beta"), 0, 1, &[d], F32)
    };
    ln("self_attention", "attn_ln")?;
    if cross {
        ln("attention", "cross_attn_ln")?;
    }
    ln("ffn", "mlp_ln")?;

    // Self-attention: linear_0 is [q; k; v], linear_1 the output. whisper.cpp has no key bias: a bias on
    // the keys adds the same amount to every score of a query, which softmax cancels, so it is dropped.
    let sa = format!("{src}/self_attention");
    let w = |l: &str| format!("{sa}/{l}/weight");
    let b = |l: &str| format!("{sa}/{l}/bias");
    add(format!("{dst}.attn.query.weight"), &w("linear_0"), 0, 3, &[d, d], F16)?;
    add(format!("{dst}.attn.query.bias"), &b("linear_0"), 0, 3, &[d], F32)?;
    add(format!("{dst}.attn.key.weight"), &w("linear_0"), 1, 3, &[d, d], F16)?;
    add(format!("{dst}.attn.value.weight"), &w("linear_0"), 2, 3, &[d, d], F16)?;
    add(format!("{dst}.attn.value.bias"), &b("linear_0"), 2, 3, &[d], F32)?;
    add(format!("{dst}.attn.out.weight"), &w("linear_1"), 0, 1, &[d, d], F16)?;
    add(format!("{dst}.attn.out.bias"), &b("linear_1"), 0, 1, &[d], F32)?;

    // Cross-attention: linear_0 is the query, linear_1 the fused [k; v], linear_2 the output.
    if cross {
        let ca = format!("{src}/attention");
        let w = |l: &str| format!("{ca}/{l}/weight");
        let b = |l: &str| format!("{ca}/{l}/bias");
        add(format!("{dst}.cross_attn.query.weight"), &w("linear_0"), 0, 1, &[d, d], F16)?;
        add(format!("{dst}.cross_attn.query.bias"), &b("linear_0"), 0, 1, &[d], F32)?;
        add(format!("{dst}.cross_attn.key.weight"), &w("linear_1"), 0, 2, &[d, d], F16)?;
        add(format!("{dst}.cross_attn.value.weight"), &w("linear_1"), 1, 2, &[d, d], F16)?;
        add(format!("{dst}.cross_attn.value.bias"), &b("linear_1"), 1, 2, &[d], F32)?;
        add(format!("{dst}.cross_attn.out.weight"), &w("linear_2"), 0, 1, &[d, d], F16)?;
        add(format!("{dst}.cross_attn.out.bias"), &b("linear_2"), 0, 1, &[d], F32)?;
    }

    let f = format!("{src}/ffn");
    add(format!("{dst}.mlp.0.weight"), &format!("{f}/linear_0/weight"), 0, 1, &[ff, d], F16)?;
    add(format!("{dst}.mlp.0.bias"), &format!("{f}/linear_0/bias"), 0, 1, &[ff], F32)?;
    add(format!("{dst}.mlp.2.weight"), &format!("{f}/linear_1/weight"), 0, 1, &[d, ff], F16)?;
    add(format!("{dst}.mlp.2.bias"), &format!("{f}/linear_1/bias"), 0, 1, &[d], F32)
}

// ---------------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------------

/// The ordinary (non-special) tokens as raw bytes. `vocabulary.txt` holds one token per line in GPT-2's
/// byte-level alphabet (`Ġ` for a space byte); whisper.cpp wants the bytes, and only the tokens before
/// `<|endoftext|>`: it names the special tokens after that itself.
fn gpt2_tokens(path: &Path, text: &[u8], n_vocab: usize) -> Result<Vec<Vec<u8>>, ConvertError> {
    let text = std::str::from_utf8(text).map_err(|e| ConvertError::Corrupt {
        path: path.to_path_buf(),
        offset: e.valid_up_to(),
        what: "not UTF-8".into(),
    })?;
    let decode = byte_decoder();
    let mut tokens = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if line == "<|endoftext|>" {
            if index >= n_vocab {
                return Err(unsupported(
                    path,
                    format!("{index} ordinary tokens but the model's vocabulary has {n_vocab}"),
                ));
            }
            return Ok(tokens);
        }
        let bytes = line.chars().map(&decode).collect::<Option<Vec<u8>>>().ok_or_else(|| {
            unsupported(path, format!("token {index} ({line:?}) has a character outside GPT-2's byte alphabet"))
        })?;
        tokens.push(bytes);
    }
    Err(unsupported(path, "no <|endoftext|> token; is this a Whisper vocabulary?"))
}

/// The inverse of GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, and the other
/// 68 bytes, in ascending order, are mapped to U+0100, U+0101, ….
fn byte_decoder() -> impl Fn(char) -> Option<u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let shifted: Vec<u8> = (0..=255u8).filter(|&b| !printable(b)).collect();
    move |c| match u32::from(c) {
        n @ 0..=255 if printable(n as u8) => Some(n as u8),
        n @ 256.. => shifted.get((n - 256) as usize).copied(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------
// Mel filterbank
// ---------------------------------------------------------------------------------------------------

/// Slaney-style mel filterbank as `librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2,
/// htk=False, norm="slaney")` computes it: `n_mels` rows of `n_fft / 2 + 1` weights, row-major.
///
/// These are the filters openai-whisper ships in `mel_filters.npz` (they agree to ~2e-9); the wheels do
/// not carry them, so they are computed here.
pub fn slaney_mel_filters(n_mels: usize, n_fft: usize, sample_rate: u32) -> Vec<f32> {
    // Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let log_step = 6.4f64.ln() / 27.0;
    let hz_to_mel = |hz: f64| {
        if hz >= MIN_LOG_HZ {
            MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step
        } else {
            hz / F_SP
        }
    };
    let mel_to_hz = |mel: f64| {
        if mel >= MIN_LOG_MEL {
            MIN_LOG_HZ * (log_step * (mel - MIN_LOG_MEL)).exp()
        } else {
            mel * F_SP
        }
    };

    let n_bins = n_fft / 2 + 1;
    let nyquist = f64::from(sample_rate) / 2.0;
    let bin_hz: Vec<f64> = (0..n_bins).map(|k| k as f64 * f64::from(sample_rate) / n_fft as f64).collect();
    // n_mels + 2 band edges, evenly spaced in mel from 0 Hz to Nyquist.
    let max_mel = hz_to_mel(nyquist);
    let edges: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(max_mel * i as f64 / (n_mels + 1) as f64)).collect();

    let mut weights = Vec::with_capacity(n_mels * n_bins);
    for m in 0..n_mels {
        let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        // Slaney normalisation: each triangle has unit area in Hz.
        let norm = 2.0 / (hi - lo);
        weights.extend(bin_hz.iter().map(|&f| {
            let rising = (f - lo) / (mid - lo);
            let falling = (hi - f) / (hi - mid);
            (rising.min(falling).max(0.0) * norm) as f32
        }));
    }
    weights
}

// ---------------------------------------------------------------------------------------------------
// ggml writer
// ---------------------------------------------------------------------------------------------------

const GGML_MAGIC: u32 = 0x6767_6d6c;
/// whisper.cpp's `n_fft` (the STFT size), fixed for every Whisper model.
const WHISPER_N_FFT: usize = 400;
const WHISPER_SAMPLE_RATE: u32 = 16_000;

fn write_ggml(path: &Path, h: &HParams, tokens: &[Vec<u8>], tensors: &[OutTensor]) -> std::io::Result<()> {
    let file = File::create(path)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let i32_le = |w: &mut BufWriter<File>, n: usize| -> std::io::Result<()> {
        let n = i32::try_from(n).map_err(|_| std::io::Error::other(format!("{n} does not fit the format's i32")))?;
        w.write_all(&n.to_le_bytes())
    };

    w.write_all(&GGML_MAGIC.to_le_bytes())?;
    let ftype_mostly_f16 = 1;
    for n in [
        h.n_vocab,
        h.n_audio_ctx,
        h.n_audio_state,
        h.n_audio_head,
        h.n_audio_layer,
        h.n_text_ctx,
        h.n_text_state,
        h.n_text_head,
        h.n_text_layer,
        h.n_mels,
        ftype_mostly_f16,
    ] {
        i32_le(&mut w, n)?;
    }

    let filters = slaney_mel_filters(h.n_mels, WHISPER_N_FFT, WHISPER_SAMPLE_RATE);
    i32_le(&mut w, h.n_mels)?;
    i32_le(&mut w, WHISPER_N_FFT / 2 + 1)?;
    for x in &filters {
        w.write_all(&x.to_le_bytes())?;
    }

    i32_le(&mut w, tokens.len())?;
    for token in tokens {
        i32_le(&mut w, token.len())?;
        w.write_all(token)?;
    }

    for t in tensors {
        i32_le(&mut w, t.shape.len())?;
        i32_le(&mut w, t.name.len())?;
        i32_le(&mut w, t.out_type as usize)?;
        for &dim in t.shape.iter().rev() {
            i32_le(&mut w, dim)?;
        }
        w.write_all(t.name.as_bytes())?;
        write_elements(&mut w, t)?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Write a tensor's elements in its output type, converting from the float type CTranslate2 stored.
fn write_elements(w: &mut impl Write, t: &OutTensor) -> std::io::Result<()> {
    let src = t.src_type;
    if (src, t.out_type) == (FloatType::F16, OutType::F16) {
        return w.write_all(t.data);
    }
    let to_f32 = |b: &[u8]| -> f32 {
        match src {
            FloatType::F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
            FloatType::BF16 => bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            FloatType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        }
    };
    let mut buf = Vec::with_capacity(t.data.len() * 2);
    let size = if src == FloatType::F32 { 4 } else { 2 };
    for b in t.data.chunks_exact(size) {
        let x = to_f32(b);
        match t.out_type {
            OutType::F32 => buf.extend_from_slice(&x.to_le_bytes()),
            OutType::F16 => buf.extend_from_slice(&f16::from_f32(x).to_le_bytes()),
        }
    }
    w.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct2_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/whisper/tiny.en-ct2")
    }

    /// A fresh scratch directory under the system temp dir, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("helpline-convert-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create scratch dir");
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn transcribe(model: &Path, wav: &Path) -> String {
        use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};
        whisper_rs::install_logging_hooks();
        let mut reader = hound::WavReader::open(wav).expect("open wav");
        let spec = reader.spec();
        assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (16_000, 1, 16));
        let samples: Vec<f32> = reader.samples::<i16>().map(|s| f32::from(s.expect("sample")) / 32768.0).collect();

        let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default()).expect("load model");
        let mut state = ctx.create_state().expect("state");
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_language(Some("en"));
        params.set_n_threads(2);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        state.full(params, &samples).expect("transcribe");
        state.as_iter().map(|seg| seg.to_str_lossy().expect("segment text").into_owned()).collect()
    }

    fn normalise(text: &str) -> String {
        let kept: String = text
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' })
            .collect();
        kept.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn converts_tiny_en_that_whisper_cpp_loads_and_transcribes() {
        let scratch = Scratch::new("tiny");
        let out = scratch.0.join("ggml-tiny.en.bin");
        let started = std::time::Instant::now();
        convert_ct2_to_ggml(&ct2_dir(), &out).expect("convert tiny.en");
        eprintln!("converted tiny.en in {:?}", started.elapsed());

        // Same input, same bytes; and no temporary file is left beside the output.
        let again = scratch.0.join("again.bin");
        convert_ct2_to_ggml(&ct2_dir(), &again).expect("convert again");
        assert!(
            std::fs::read(&out).expect("read") == std::fs::read(&again).expect("read"),
            "output is not deterministic"
        );
        let names: Vec<_> =
            std::fs::read_dir(&scratch.0).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names.len(), 2, "stray files beside the output: {names:?}");

        let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio-samples/clips/jfk.wav");
        let text = normalise(&transcribe(&out, &wav));
        assert!(text.contains("ask not what your country can do for you"), "transcript: {text}");
    }

    #[test]
    fn truncated_model_is_a_clear_error_and_leaves_no_output() {
        let scratch = Scratch::new("truncated");
        let dir = scratch.0.join("ct2");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(ct2_dir().join("vocabulary.txt"), dir.join("vocabulary.txt")).expect("copy vocabulary");
        let model = std::fs::read(ct2_dir().join("model.bin")).expect("read model.bin");
        let out = scratch.0.join("out.bin");
        // Cut inside the header, inside a tensor's data and just before the aliases' end.
        for cut in [3, 40, model.len() / 2, model.len() - 1] {
            std::fs::write(dir.join("model.bin"), &model[..cut]).expect("write truncated model");
            let err = convert_ct2_to_ggml(&dir, &out).expect_err("truncated model must fail");
            assert!(matches!(err, ConvertError::Corrupt { .. }), "cut at {cut}: {err:?}");
            let message = err.to_string();
            assert!(message.contains("model.bin") && message.contains("truncated"), "{message}");
            assert!(!out.exists());
        }
        // Trailing garbage is corruption too.
        let mut padded = model.clone();
        padded.push(0);
        std::fs::write(dir.join("model.bin"), &padded).expect("write padded model");
        let err = convert_ct2_to_ggml(&dir, &out).expect_err("trailing bytes must fail");
        assert!(err.to_string().contains("unexpected bytes"), "{err}");
    }

    #[test]
    fn missing_inputs_are_clear_errors() {
        let scratch = Scratch::new("missing");
        let out = scratch.0.join("out.bin");
        let err = convert_ct2_to_ggml(&scratch.0.join("nope"), &out).expect_err("missing dir must fail");
        assert!(matches!(err, ConvertError::MissingDir { .. }), "{err:?}");
        assert!(err.to_string().contains("helpline models fetch"), "{err}");

        let err = convert_ct2_to_ggml(&scratch.0, &out).expect_err("empty dir must fail");
        assert!(matches!(&err, ConvertError::MissingFile { path } if path.ends_with("model.bin")), "{err:?}");
    }

    #[test]
    fn gpt2_byte_alphabet_maps_back_to_bytes() {
        let decode = byte_decoder();
        assert_eq!(decode('a'), Some(b'a'));
        assert_eq!(decode('Ġ'), Some(b' ')); // U+0120
        assert_eq!(decode('Ċ'), Some(b'\n')); // U+010A
        assert_eq!(decode('ÿ'), Some(0xFF));
        assert_eq!(decode(' '), None); // a raw space is never part of a byte-level token
        let all: std::collections::BTreeSet<u8> =
            (0..=0x200u32).filter_map(char::from_u32).filter_map(&decode).collect();
        assert_eq!(all.len(), 256);

        let tokens = gpt2_tokens(Path::new("v.txt"), "a\nĠthe\n<|endoftext|>\n<|startoftranscript|>".as_bytes(), 10)
            .expect("tokens");
        assert_eq!(tokens, vec![b"a".to_vec(), b" the".to_vec()]);
    }

    #[test]
    fn mel_filters_match_openai_whisper() {
        // Reference values from openai-whisper's assets/mel_filters.npz (librosa, slaney norm).
        let m80 = slaney_mel_filters(80, 400, 16_000);
        assert_eq!(m80.len(), 80 * 201);
        assert!(m80.iter().all(|&w| w >= 0.0));
        let at = |m: &[f32], row: usize, bin: usize| m[row * 201 + bin];
        let close = |a: f32, b: f32| (a - b).abs() < 1e-8;
        // The first filter is a single spike at bin 1 (40 Hz); the last one spans bins 186..=199.
        assert!(close(at(&m80, 0, 1), 0.024_862_595), "{}", at(&m80, 0, 1));
        assert_eq!(m80[..201].iter().filter(|&&w| w > 0.0).count(), 1);
        assert!(close(at(&m80, 79, 186), 0.000_366_741_67));
        assert!(close(at(&m80, 79, 193), 0.003_141_313_3));
        assert_eq!(at(&m80, 79, 200), 0.0);
        let row_sum = |m: &[f32], row: usize| m[row * 201..(row + 1) * 201].iter().map(|&w| f64::from(w)).sum::<f64>();
        assert!((row_sum(&m80, 40) - 0.026_664_861).abs() < 1e-7);

        let m128 = slaney_mel_filters(128, 400, 16_000);
        assert!(close(at(&m128, 0, 1), 0.012_373_987));
        assert!(close(at(&m128, 127, 192), 0.001_617_171_7));
        assert!((row_sum(&m128, 64) - 0.024_841_201).abs() < 1e-7);
    }
}

//! The real model, when `scripts/get-model.sh` has fetched it (CI runs it first).

use std::path::PathBuf;

use threatdesk_embed::{MiniLm, looks_like_model};

fn model() -> Option<MiniLm> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models/all-minilm-l6-v2");
    if !looks_like_model(&folder) {
        eprintln!(
            "skipped: no model in {} (run scripts/get-model.sh)",
            folder.display()
        );
        return None;
    }
    Some(MiniLm::load(&folder, 256).expect("the model loads"))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn similar_reports_are_closer_than_unrelated_ones_and_vectors_are_unit_length() {
    let Some(model) = model() else { return };
    let texts = [
        "Russian hackers sent phishing e-mails to European foreign ministries.",
        "Foreign ministries in Europe were targeted by a Russian spear-phishing campaign.",
        "A ransomware gang encrypted the servers of a regional hospital.",
    ];
    let vectors = model.embed(&texts).expect("embeds");
    assert_eq!(vectors.len(), 3);
    assert_eq!(vectors[0].len(), model.dimensions());
    for v in &vectors {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let same_event = cosine(&vectors[0], &vectors[1]);
    let other_event = cosine(&vectors[0], &vectors[2]);
    assert!(same_event > 0.6, "{same_event}");
    assert!(same_event > other_event + 0.3, "{same_event} vs {other_event}");
}

#[test]
fn padding_in_a_batch_does_not_change_a_vector() {
    let Some(model) = model() else { return };
    let short = "Patch the VPN appliance now.";
    let long = "The operators exploited a vulnerability in the VPN appliance, moved laterally with \
                stolen credentials, disabled security tools and deployed ransomware across the domain.";
    let alone = model.embed(&[short]).expect("embeds");
    let batched = model.embed(&[short, long]).expect("embeds");
    let difference: f32 = alone[0]
        .iter()
        .zip(&batched[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(difference < 1e-4, "{difference}");
    assert!(model.embed(&[]).expect("nothing to do").is_empty());
}

#[test]
fn a_broken_model_folder_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("threatdesk-broken-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("folder");
    std::fs::write(dir.join("config.json"), "{not json").expect("write");
    std::fs::write(dir.join("tokenizer.json"), "{}").expect("write");
    std::fs::write(dir.join("model.safetensors"), "nope").expect("write");
    let error = MiniLm::load(&dir, 128).map(|_| ()).map_err(|e| e.to_string());
    assert!(
        error.as_ref().is_err_and(|e| e.contains("config.json")),
        "{error:?}"
    );
    let missing = MiniLm::load(&dir.join("absent"), 128)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(missing.is_err_and(|e| e.contains("cannot read")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// candle's BERT with the padding and masked mean pooling of sentence-transformers: the
/// reference the packed encoder must agree with.
fn reference_vectors(texts: &[&str], max_tokens: usize) -> Vec<Vec<f32>> {
    use candle_core::{DType, Device, Tensor};
    use candle_transformers::models::bert::{BertModel, Config};
    use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/models/all-minilm-l6-v2");
    let config: Config =
        serde_json::from_slice(&std::fs::read(folder.join("config.json")).expect("config")).expect("config");
    let mut tokenizer = Tokenizer::from_file(folder.join("tokenizer.json")).expect("tokenizer");
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..PaddingParams::default()
    }));
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .expect("truncation");
    let weights = std::fs::read(folder.join("model.safetensors")).expect("weights");
    let vb =
        candle_nn::VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu).expect("weights");
    let model = BertModel::load(vb, &config).expect("model");
    let encodings = tokenizer.encode_batch(texts.to_vec(), true).expect("tokens");
    let width = encodings[0].get_ids().len();
    let ids: Vec<u32> = encodings.iter().flat_map(|e| e.get_ids().to_vec()).collect();
    let mask: Vec<u32> = encodings
        .iter()
        .flat_map(|e| e.get_attention_mask().to_vec())
        .collect();
    let ids = Tensor::from_vec(ids, (texts.len(), width), &Device::Cpu).expect("ids");
    let mask = Tensor::from_vec(mask, (texts.len(), width), &Device::Cpu).expect("mask");
    let hidden = model
        .forward(&ids, &ids.zeros_like().expect("types"), Some(&mask))
        .expect("forward");
    let mask = mask
        .to_dtype(DType::F32)
        .and_then(|m| m.unsqueeze(2))
        .expect("mask");
    let summed = hidden.broadcast_mul(&mask).and_then(|t| t.sum(1)).expect("sum");
    let mean = summed.broadcast_div(&mask.sum(1).expect("count")).expect("mean");
    let norms = mean
        .sqr()
        .and_then(|t| t.sum_keepdim(1))
        .and_then(|t| t.sqrt())
        .expect("norm");
    mean.broadcast_div(&norms)
        .and_then(|t| t.to_vec2::<f32>())
        .expect("vectors")
}

#[test]
fn the_packed_encoder_agrees_with_candles_bert() {
    let Some(model) = model() else { return };
    let texts = [
        "APT28 exploited CVE-2023-23397 in Outlook against European energy firms.",
        "Short.",
        "The operators exploited a vulnerability in the VPN appliance, moved laterally with stolen \
         credentials, disabled security tools and deployed ransomware across the domain; the \
         ransom note pointed to a leak site run by the LockBit affiliate program.",
        "Le ministère a publié un avis sur une campagne d'hameçonnage visant les collectivités.",
    ];
    let ours = model.embed(&texts).expect("embeds");
    let reference = reference_vectors(&texts, 256);
    for (a, b) in ours.iter().zip(&reference) {
        let difference = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(difference < 2e-5, "largest difference {difference}");
    }
    // Cut to fewer tokens than the longest text, the two still agree.
    let short = MiniLm::load(model.folder(), 16).expect("loads");
    let ours = short.embed(&texts).expect("embeds");
    let reference = reference_vectors(&texts, 16);
    for (a, b) in ours.iter().zip(&reference) {
        let difference = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
        assert!(difference < 2e-5, "largest difference {difference} at 16 tokens");
    }
}

#[test]
fn weights_that_are_not_the_model_are_a_clear_error() {
    let Some(model) = model() else { return };
    let dir = std::env::temp_dir().join(format!("threatdesk-bad-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("folder");
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(model.folder().join(file), dir.join(file)).expect("copy");
    }
    let weights = std::fs::read(model.folder().join("model.safetensors")).expect("weights");
    // Cut short: the header promises more bytes than there are.
    std::fs::write(dir.join("model.safetensors"), &weights[..weights.len() / 2]).expect("write");
    let truncated = MiniLm::load(&dir, 64).map(|_| ()).map_err(|e| e.to_string());
    assert!(
        truncated.as_ref().is_err_and(|e| e.contains("model.safetensors")),
        "{truncated:?}"
    );
    // A config that does not fit the weights: the first mismatch is named.
    let config = std::fs::read_to_string(dir.join("config.json")).expect("config");
    std::fs::write(
        dir.join("config.json"),
        config.replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024"),
    )
    .expect("write");
    std::fs::write(dir.join("model.safetensors"), &weights).expect("write");
    let mismatched = MiniLm::load(&dir, 64).map(|_| ()).map_err(|e| e.to_string());
    assert!(
        mismatched
            .as_ref()
            .is_err_and(|e| e.contains("intermediate.dense.weight") && e.contains("1536")),
        "{mismatched:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

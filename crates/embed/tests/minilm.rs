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

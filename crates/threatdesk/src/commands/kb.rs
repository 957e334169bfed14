//! `threatdesk kb …`: import, inspect and search the knowledge base.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use threatdesk_extract::Recognizer;
use threatdesk_kb::{Entity, EntityKind, KnowledgeBase, MergeReport, Resolution, import};
use threatdesk_store::Store;

use super::open_store;
use crate::cli::{Format, GlobalArgs};
use crate::config::DataDir;
use crate::output::print_json;
use crate::{EXIT_OK, EXIT_PARTIAL};

/// The knowledge base a data folder uses: the stored one once anything was imported,
/// else the built-in one (also when there is no data folder).
pub(crate) struct Knowledge {
    pub kb: Cow<'static, KnowledgeBase>,
    /// Where it came from, for messages.
    pub origin: &'static str,
}

impl Knowledge {
    pub(crate) fn load(data: &DataDir) -> anyhow::Result<Knowledge> {
        if data.is_initialised() {
            let store = open_store(data)?;
            if let Some(entities) = store
                .knowledge_base()
                .context("cannot read the stored knowledge base")?
            {
                return Ok(Knowledge {
                    kb: Cow::Owned(KnowledgeBase::from_entities(entities)),
                    origin: "data folder",
                });
            }
        }
        Ok(Knowledge {
            kb: Cow::Borrowed(KnowledgeBase::builtin()),
            origin: "built-in",
        })
    }

    /// A recogniser for this knowledge base (the built-in one is built once per process).
    pub(crate) fn recognizer(&self) -> Cow<'static, Recognizer> {
        match &self.kb {
            Cow::Borrowed(_) => Cow::Borrowed(Recognizer::builtin()),
            Cow::Owned(kb) => Cow::Owned(Recognizer::new(kb)),
        }
    }
}

#[derive(Serialize)]
struct ImportSummary<'a> {
    files: Vec<FileSummary>,
    rejected: Vec<String>,
    merge: &'a MergeReport,
    entities: usize,
    alias_conflicts: usize,
}

#[derive(Serialize)]
struct FileSummary {
    file: String,
    format: String,
    records: usize,
}

pub fn import(data: &DataDir, global: &GlobalArgs, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let store = open_store(data)?;
    let mut records = Vec::new();
    let mut summaries = Vec::new();
    let mut rejected = Vec::new();
    for file in files {
        let label = file.display().to_string();
        let parsed = std::fs::read(file)
            .map_err(|e| format!("{label}: {e}"))
            .and_then(|bytes| import::parse(&label, &bytes).map_err(|e| e.to_string()));
        match parsed {
            Ok((format, mut parsed)) => {
                summaries.push(FileSummary {
                    file: label,
                    format: format.to_string(),
                    records: parsed.len(),
                });
                records.append(&mut parsed);
            }
            Err(reason) => {
                eprintln!("threatdesk: rejected: {reason}");
                rejected.push(reason);
            }
        }
    }
    if records.is_empty() {
        // Nothing to merge: the data folder keeps following the built-in knowledge base.
        if global.format != Format::Text {
            print_json(&serde_json::json!({ "files": summaries, "rejected": rejected }))?;
        }
        return Ok(ExitCode::from(if rejected.is_empty() {
            EXIT_OK
        } else {
            EXIT_PARTIAL
        }));
    }
    let stored = store
        .knowledge_base()
        .context("cannot read the stored knowledge base")?;
    let mut kb = match stored {
        Some(entities) => KnowledgeBase::from_entities(entities),
        None => KnowledgeBase::builtin().clone(),
    };
    let report = kb.merge(records);
    let conflicts = kb.alias_conflicts().len();
    let entities = kb.into_entities();
    store
        .replace_knowledge_base(&entities)
        .context("cannot store the knowledge base")?;
    let summary = ImportSummary {
        files: summaries,
        rejected: rejected.clone(),
        merge: &report,
        entities: entities.len(),
        alias_conflicts: conflicts,
    };
    if global.format == Format::Text {
        for file in &summary.files {
            println!("{}: {}, {} records", file.file, file.format, file.records);
        }
        println!(
            "{} records: {} new entities, {} added to existing ones, {} entities joined, {} statements refused, \
             {} relations to unknown entities",
            report.records,
            report.created,
            report.merged,
            report.unions.len(),
            report.refused.len(),
            report.unresolved_relations
        );
        if !global.quiet {
            for refusal in &report.refused {
                eprintln!("threatdesk: refused: {}: {}", refusal.record, refusal.reason);
            }
        }
        println!(
            "knowledge base: {} entities, {conflicts} names claimed by several (threatdesk kb conflicts)",
            entities.len()
        );
    } else {
        print_json(&summary)?;
    }
    Ok(ExitCode::from(if rejected.is_empty() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }))
}

#[derive(Serialize)]
struct EntityView<'a> {
    #[serde(flatten)]
    entity: &'a Entity,
    relation_targets: BTreeMap<i64, String>,
}

pub fn show(data: &DataDir, global: &GlobalArgs, name: &str) -> anyhow::Result<ExitCode> {
    let knowledge = Knowledge::load(data)?;
    let kb = &knowledge.kb;
    let found = kb.lookup(name);
    let Some(entity) = found.first() else {
        anyhow::bail!("no entity is called {name:?} (try `threatdesk kb search {name}`)");
    };
    let target_name = |id| {
        kb.get(id)
            .map_or_else(|| format!("#{id}"), |e| e.canonical_name.clone())
    };
    if global.format != Format::Text {
        let views: Vec<EntityView> = found
            .iter()
            .map(|entity| EntityView {
                entity,
                relation_targets: entity
                    .relations
                    .iter()
                    .map(|r| (r.target.0, target_name(r.target)))
                    .collect(),
            })
            .collect();
        print_json(&views)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    println!(
        "{} ({}, entity {})",
        entity.canonical_name, entity.kind, entity.id
    );
    for id in &entity.external_ids {
        println!("  id        {}: {}", id.system, id.id);
    }
    let mut by_name: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for alias in &entity.aliases {
        let form = match alias.form {
            threatdesk_kb::AliasForm::Name => String::new(),
            other => format!(" ({})", serde_json::to_value(other)?.as_str().unwrap_or_default()),
        };
        by_name
            .entry((alias.name.as_str(), form))
            .or_default()
            .push(&alias.provenance);
    }
    for ((alias, form), provenances) in by_name {
        println!("  alias     {alias}{form}  [{}]", provenances.join(", "));
    }
    for relation in &entity.relations {
        println!(
            "  {:<9} {}  [{}]",
            relation.kind.as_str(),
            target_name(relation.target),
            relation.provenance
        );
    }
    // The other direction: who uses this tool, which actors are attributed to this country.
    let mut incoming: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for other in kb.entities() {
        for relation in other.relations.iter().filter(|r| r.target == entity.id) {
            let names = incoming.entry(relation.kind.as_str()).or_default();
            if !names.contains(&other.canonical_name.as_str()) {
                names.push(&other.canonical_name);
            }
        }
    }
    for (kind, names) in incoming {
        let shown: Vec<&str> = names.iter().take(12).copied().collect();
        let more = names.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        println!("  {kind} ← {}{more}", shown.join(", "));
    }
    for other in found.iter().skip(1) {
        println!(
            "also called {name:?}: {} ({}, entity {})",
            other.canonical_name, other.kind, other.id
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

#[derive(Serialize)]
struct SearchHit<'a> {
    id: i64,
    kind: EntityKind,
    name: &'a str,
    ids: Vec<String>,
}

pub fn search(
    data: &DataDir,
    global: &GlobalArgs,
    query: &str,
    kind: Option<&str>,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let kind = kind.map(str::parse::<EntityKind>).transpose()?;
    let knowledge = Knowledge::load(data)?;
    let hits: Vec<SearchHit> = knowledge
        .kb
        .search(query, kind)
        .into_iter()
        .take(limit)
        .map(|e| SearchHit {
            id: e.id.0,
            kind: e.kind,
            name: &e.canonical_name,
            ids: e
                .external_ids
                .iter()
                .filter(|id| matches!(id.system.as_str(), "mitre-attack" | "malpedia" | "iso3166"))
                .map(|id| id.id.clone())
                .collect(),
        })
        .collect();
    if global.format != Format::Text {
        print_json(&hits)?;
    } else {
        for hit in &hits {
            println!(
                "{:>6}  {:<16} {}  {}",
                hit.id,
                hit.kind.as_str(),
                hit.name,
                hit.ids.join(" ")
            );
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

#[derive(Serialize)]
struct ConflictView {
    alias: String,
    resolved_to: Option<String>,
    claimants: Vec<String>,
}

pub fn conflicts(data: &DataDir, global: &GlobalArgs, limit: usize) -> anyhow::Result<ExitCode> {
    let knowledge = Knowledge::load(data)?;
    let kb = &knowledge.kb;
    let describe = |id| {
        kb.get(id).map_or_else(String::new, |e| {
            format!("{} ({}, {})", e.canonical_name, e.kind, e.id)
        })
    };
    let conflicts = kb.alias_conflicts();
    let total = conflicts.len();
    let views: Vec<ConflictView> = conflicts
        .into_iter()
        .take(limit)
        .map(|entry| ConflictView {
            resolved_to: match entry.resolution {
                Resolution::Unique(id) | Resolution::Resolved(id) => Some(describe(id)),
                Resolution::Ambiguous => None,
            },
            claimants: entry.claims.iter().map(|c| describe(c.entity)).collect(),
            alias: entry.normalised,
        })
        .collect();
    if global.format != Format::Text {
        print_json(&views)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    for view in &views {
        let verdict = view
            .resolved_to
            .as_deref()
            .unwrap_or("ambiguous: not used for recognition");
        println!(
            "{:?} -> {verdict}\n    claimed by: {}",
            view.alias,
            view.claimants.join("; ")
        );
    }
    println!(
        "{total} names claimed by several entities ({} shown; --limit N for more)",
        views.len()
    );
    Ok(ExitCode::from(EXIT_OK))
}

#[derive(Serialize)]
struct Stats<'a> {
    origin: &'a str,
    /// Where the built-in knowledge base comes from, with the licences.
    builtin_sources: Vec<String>,
    entities: usize,
    by_kind: BTreeMap<&'static str, usize>,
    aliases_by_source: BTreeMap<String, usize>,
    recognition: threatdesk_extract::entities::RecognizerStats,
}

pub fn stats(data: &DataDir, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let knowledge = Knowledge::load(data)?;
    let mut by_kind = BTreeMap::new();
    let mut aliases_by_source = BTreeMap::new();
    for entity in knowledge.kb.entities() {
        *by_kind.entry(entity.kind.as_str()).or_insert(0) += 1;
        for alias in &entity.aliases {
            *aliases_by_source.entry(alias.provenance.clone()).or_insert(0) += 1;
        }
    }
    let stats = Stats {
        origin: knowledge.origin,
        builtin_sources: KnowledgeBase::builtin_sources(),
        entities: knowledge.kb.len(),
        by_kind,
        aliases_by_source,
        recognition: knowledge.recognizer().stats().clone(),
    };
    if global.format != Format::Text {
        print_json(&stats)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    println!("knowledge base ({}): {} entities", stats.origin, stats.entities);
    println!("built-in sources:");
    for source in &stats.builtin_sources {
        println!("  {source}");
    }
    for (kind, count) in &stats.by_kind {
        println!("  {kind:<18} {count}");
    }
    println!("aliases by source:");
    for (source, count) in &stats.aliases_by_source {
        println!("  {source:<40} {count}");
    }
    let r = &stats.recognition;
    println!(
        "recognition: {} patterns ({} exact case, {} need context); left out: {} ambiguous, {} too short, \
         {} generic words, {} only from weak sources",
        r.patterns, r.exact_case, r.need_context, r.ambiguous, r.too_short, r.generic, r.weak_source
    );
    Ok(ExitCode::from(EXIT_OK))
}

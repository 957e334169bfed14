//! Line-based tables: threatdesk's curated table format and the country-adjectival list.

use threatdesk_model::{AliasForm, EntityKind, ExternalId, RelationKind};

use super::{ImportError, file_label};
use crate::merge::name_key;
use crate::{Record, Target};

/// First bytes of a curated table.
pub const CURATED_HEADER: &str = "# threatdesk-kb";

/// Reads a curated table: tab-separated lines `kind, ids, name, aliases, options` after a
/// `# threatdesk-kb [provenance=NAME]` header; `#` lines are comments.
///
/// - *ids*: space-separated `system=id` pairs (`mitre-attack=TA0001 attack-shortname=initial-access`);
/// - *aliases*: `;`-separated names, each optionally prefixed `demonym:` or `metonym:`;
/// - *options*: `attach` (only add to an entity found by its ids or name, never create one);
/// - *relations* (optional sixth column): space-separated `kind=system:id` pairs
///   (`located_in=iso3166:SA`).
///
/// The provenance defaults to `analyst:<file name>`.
pub fn curated(file: &str, text: &str) -> Result<Vec<Record>, ImportError> {
    let mut provenance = format!("analyst:{}", file_label(file));
    let mut records = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let position = || format!("line {}", number + 1);
        if let Some(header) = line.strip_prefix(CURATED_HEADER) {
            if let Some(name) = header
                .split_whitespace()
                .find_map(|word| word.strip_prefix("provenance="))
            {
                provenance = name.to_owned();
            }
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let (kind, ids, name) = match fields.as_slice() {
            [kind, ids, name, ..] => (*kind, *ids, name.trim()),
            _ => {
                return Err(ImportError::invalid(
                    file,
                    position(),
                    "expected at least kind, ids and name",
                ));
            }
        };
        let kind: EntityKind = kind
            .parse()
            .map_err(|e| ImportError::invalid(file, position(), e))?;
        if name.is_empty() {
            return Err(ImportError::invalid(file, position(), "empty name"));
        }
        let mut record = Record::new(kind, name, provenance.clone());
        for pair in ids.split_whitespace() {
            let (system, id) = pair.split_once('=').ok_or_else(|| {
                ImportError::invalid(file, position(), format!("id {pair:?} is not system=id"))
            })?;
            record = record.id(system, id);
        }
        for alias in fields.get(3).copied().unwrap_or_default().split(';') {
            let (form, alias) = match alias.trim().split_once(':') {
                Some(("demonym", alias)) => (AliasForm::Demonym, alias),
                Some(("metonym", alias)) => (AliasForm::Metonym, alias),
                _ => (AliasForm::Name, alias),
            };
            record = record.names([alias], form);
        }
        for option in fields.get(4).copied().unwrap_or_default().split_whitespace() {
            match option {
                "attach" => record.attach_only = true,
                other => {
                    return Err(ImportError::invalid(
                        file,
                        position(),
                        format!("unknown option {other:?}"),
                    ));
                }
            }
        }
        for pair in fields.get(5).copied().unwrap_or_default().split_whitespace() {
            let parsed = pair.split_once('=').and_then(|(kind, target)| {
                let (system, id) = target.split_once(':')?;
                Some((kind.parse::<RelationKind>().ok()?, ExternalId::new(system, id)))
            });
            let (kind, target) = parsed.ok_or_else(|| {
                ImportError::invalid(
                    file,
                    position(),
                    format!("relation {pair:?} is not kind=system:id"),
                )
            })?;
            record.relations.push((kind, Target::Id(target)));
        }
        if record.ids.is_empty() {
            if record.attach_only {
                record.same_as.push(Target::Name(kind, name.to_owned()));
            } else {
                record.ids.push(name_key(&record.provenance, name));
            }
        }
        records.push(record);
    }
    Ok(records)
}

/// Reads `Country,Name variant,Adjective` lines (the CMU country-adjectival list): each
/// adds its variant as a name and its adjective as a demonym to the country of that name.
pub fn adjectivals(file: &str, text: &str) -> Result<Vec<Record>, ImportError> {
    let mut records = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [country, variant, adjective] = fields.as_slice() else {
            return Err(ImportError::invalid(
                file,
                format!("line {}", number + 1),
                format!(
                    "expected Country,Name variant,Adjective; found {} fields",
                    fields.len()
                ),
            ));
        };
        let mut record = Record::new(EntityKind::Country, *country, "country-adjectivals")
            .names([*variant], AliasForm::Name)
            .names([*adjective], AliasForm::Demonym);
        record
            .same_as
            .push(Target::Name(EntityKind::Country, (*country).to_owned()));
        record.attach_only = true;
        records.push(record);
    }
    Ok(records)
}

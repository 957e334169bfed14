//! What a bulletin export is made of, gathered from the store: the entities the bulletin is
//! about and those its sources mention, the indicators and vulnerabilities found in its
//! sources (benign ones left out) and the sources themselves. Only sources marked at most as
//! the bulletin is count: an AMBER item cited by a CLEAR bulletin must not leave as CLEAR. The publishers in
//! `threatdesk-publish` turn it into STIX or MISP without touching the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use threatdesk_kb::KnowledgeBase;
use threatdesk_model::{Bulletin, BulletinStatus, EntityId, FindingKind, Tlp};
use threatdesk_publish::stix::Export;
use threatdesk_store::{BulletinFilter, Store, StoreError};

/// A bulletin's references, owned, so that they can cross threads.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    entity_ids: Vec<EntityId>,
    observables: Vec<(FindingKind, String)>,
    sources: Vec<(String, String)>,
}

/// The published bulletins marked at most `ceiling`, in publication order (oldest first,
/// then by id): what the machine channels serve a caller with that clearance.
pub fn published_up_to(store: &dyn Store, ceiling: Tlp) -> Result<Vec<Bulletin>, StoreError> {
    let mut bulletins: Vec<Bulletin> = store
        .list_bulletins(&BulletinFilter {
            status: Some(BulletinStatus::Published),
            tlp_ceiling: Some(ceiling),
            limit: Some(u32::MAX),
        })?
        .into_iter()
        .filter(|b| b.status == BulletinStatus::Published && b.content.tlp <= ceiling)
        .collect();
    bulletins.sort_by_key(|b| (b.published_at.unwrap_or(b.updated_at), b.id));
    Ok(bulletins)
}

/// Gathers what `bulletin` refers to.
pub fn gather(store: &dyn Store, bulletin: &Bulletin) -> Result<Gathered, StoreError> {
    let mut gathered = Gathered {
        entity_ids: bulletin.content.entity_ids.clone(),
        ..Gathered::default()
    };
    for item_id in &bulletin.content.item_ids {
        // A cited item marked above the bulletin adds nothing: its title, address and
        // findings would leave under the bulletin's (lower) marking.
        let Some(item) = store.item(*item_id)? else {
            continue;
        };
        if item.content.tlp > bulletin.content.tlp {
            continue;
        }
        if item.content.canonical_url.starts_with("http") {
            gathered
                .sources
                .push((item.content.title.clone(), item.content.canonical_url.clone()));
        }
        for finding in store.item_findings(*item_id)? {
            if finding.is_benign() {
                continue;
            }
            if finding.kind == FindingKind::EntityMention {
                for entity in finding.entity_ids {
                    if !gathered.entity_ids.contains(&entity) {
                        gathered.entity_ids.push(entity);
                    }
                }
            } else if (finding.kind == FindingKind::Cve
                || threatdesk_publish::stix::pattern(finding.kind, &finding.value).is_some())
                && !gathered
                    .observables
                    .iter()
                    .any(|(kind, value)| *kind == finding.kind && *value == finding.value)
            {
                gathered.observables.push((finding.kind, finding.value));
            }
        }
    }
    Ok(gathered)
}

impl Gathered {
    /// The export of `bulletin` with these references, entities named from `kb`.
    pub fn export<'a>(
        &self,
        bulletin: &'a Bulletin,
        kb: &'a KnowledgeBase,
        publisher: &'a str,
    ) -> Export<'a> {
        Export {
            bulletin,
            entities: self.entity_ids.iter().filter_map(|e| kb.get(*e)).collect(),
            observables: self.observables.clone(),
            sources: self.sources.clone(),
            publisher,
        }
    }
}

/// The machine formats a bulletin exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A STIX 2.1 bundle.
    Stix,
    /// A MISP event.
    Misp,
}

/// A bulletin in `format`, gathered and built in one step.
pub fn document(
    store: &dyn Store,
    kb: &KnowledgeBase,
    bulletin: &Bulletin,
    publisher: &str,
    format: Format,
) -> Result<Value, StoreError> {
    let gathered = gather(store, bulletin)?;
    let export = gathered.export(bulletin, kb, publisher);
    Ok(match format {
        Format::Stix => threatdesk_publish::stix::bundle(&export),
        Format::Misp => threatdesk_publish::misp::event(&export),
    })
}

/// Things built from published bulletins, by bulletin version, so that TAXII and the MISP
/// feed do not gather and build every bulletin on every request. An entry is found by the
/// bulletin's id, version, last update and publication, so an edited bulletin is built afresh; what its
/// cited items say is taken as of the first build of that version. Callers keep JSON as
/// text: a parsed document takes several times the memory, and most requests only copy it.
#[derive(Debug)]
pub struct VersionCache<T> {
    built: Mutex<HashMap<VersionKey, Arc<T>>>,
}

/// A bulletin version: id, version, last update and publication (milliseconds).
type VersionKey = (i64, u32, i64, i64);

impl<T> Default for VersionCache<T> {
    fn default() -> Self {
        Self {
            built: Mutex::new(HashMap::new()),
        }
    }
}

/// Entries kept at most; beyond it the cache starts over (old versions pile up otherwise).
const CACHE_ENTRIES: usize = 20_000;

impl<T> VersionCache<T> {
    /// What `build` makes of `bulletin`, built once per version.
    pub fn get_or_build(
        &self,
        bulletin: &Bulletin,
        build: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<Arc<T>, StoreError> {
        let key = (
            bulletin.id.0,
            bulletin.version,
            bulletin.updated_at.timestamp_millis(),
            bulletin.published_at.map_or(0, |t| t.timestamp_millis()),
        );
        if let Some(found) = self.lock().get(&key) {
            return Ok(Arc::clone(found));
        }
        let built = Arc::new(build()?);
        let mut cache = self.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&built));
        Ok(built)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<VersionKey, Arc<T>>> {
        self.built.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

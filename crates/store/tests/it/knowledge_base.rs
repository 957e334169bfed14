use threatdesk_model::{Alias, AliasForm, Entity, EntityId, EntityKind, ExternalId, Relation, RelationKind};
use threatdesk_store::Store;

use crate::temp_store;

fn entity(id: i64, kind: EntityKind, name: &str) -> Entity {
    Entity {
        id: EntityId(id),
        kind,
        canonical_name: name.to_owned(),
        aliases: vec![Alias {
            name: name.to_owned(),
            provenance: "attack".to_owned(),
            form: AliasForm::Name,
        }],
        external_ids: Vec::new(),
        relations: Vec::new(),
        description: None,
    }
}

#[test]
fn the_knowledge_base_round_trips_exactly_and_replaces_as_a_whole() {
    let (_dir, store) = temp_store();
    assert_eq!(
        store.knowledge_base().expect("read"),
        None,
        "empty until the first import"
    );
    let mut apt28 = entity(7, EntityKind::ThreatActor, "APT28");
    apt28.aliases.push(Alias {
        name: "Fancy Bear".to_owned(),
        provenance: "misp-galaxy:threat-actor".to_owned(),
        form: AliasForm::Name,
    });
    // Order matters to readers (the first uuid is the one shown): it survives.
    apt28.external_ids = vec![
        ExternalId::new("uuid", "ffffffff-0000-4000-8000-000000000001"),
        ExternalId::new("mitre-attack", "G0007"),
        ExternalId::new("uuid", "00000000-0000-4000-8000-000000000002"),
    ];
    apt28.relations = vec![Relation {
        kind: RelationKind::AttributedTo,
        target: EntityId(9),
        provenance: "misp-galaxy:threat-actor".to_owned(),
    }];
    apt28.description = Some("A group.".to_owned());
    let mut russia = entity(9, EntityKind::Country, "Russia");
    russia.aliases.push(Alias {
        name: "Russian".to_owned(),
        provenance: "country-adjectivals".to_owned(),
        form: AliasForm::Demonym,
    });
    let entities = vec![apt28, russia];
    store.replace_knowledge_base(&entities).expect("write");
    assert_eq!(store.knowledge_base().expect("read"), Some(entities.clone()));

    let smaller = vec![entities[1].clone()];
    store.replace_knowledge_base(&smaller).expect("replace");
    assert_eq!(store.knowledge_base().expect("read"), Some(smaller));
}

//! Typed identifiers, so an item id can never be passed where a story id is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map($name)
                    .ok_or_else(|| crate::ParseError::new(stringify!($name), s, "expected a positive integer"))
            }
        }
    };
}

id_type!(
    /// Identifies a [`crate::Source`].
    SourceId
);
id_type!(
    /// Identifies an [`crate::Item`].
    ItemId
);
id_type!(
    /// Identifies a [`crate::Story`].
    StoryId
);
id_type!(
    /// Identifies a [`crate::Bulletin`].
    BulletinId
);
id_type!(
    /// Identifies an [`crate::Entity`] in the knowledge base.
    EntityId
);
id_type!(
    /// Identifies a [`crate::User`].
    UserId
);
id_type!(
    /// Identifies a [`crate::Subscription`].
    SubscriptionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_positive_integers() {
        assert_eq!("42".parse::<ItemId>(), Ok(ItemId(42)));
        assert!("0".parse::<ItemId>().is_err());
        assert!("-3".parse::<ItemId>().is_err());
        assert!("abc".parse::<ItemId>().is_err());
    }

    #[test]
    fn ids_serialise_as_bare_numbers() {
        assert_eq!(serde_json::to_string(&StoryId(7)).ok().as_deref(), Some("7"));
    }
}

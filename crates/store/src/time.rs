//! Times are stored as INTEGER milliseconds since the Unix epoch, UTC: compact, ordered,
//! and the same on every backend.

use chrono::{DateTime, Utc};

use crate::StoreError;

pub(crate) fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        column,
        reason: format!("{ms} is not a valid timestamp"),
    })
}

pub(crate) fn now_millis() -> i64 {
    to_millis(Utc::now())
}

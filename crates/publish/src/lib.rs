//! Publishers: a bulletin, with what it refers to, turned into the formats machines read.
//! Pure functions (no I/O): the caller gathers the entities, indicators and sources.

pub mod misp;
pub mod stix;

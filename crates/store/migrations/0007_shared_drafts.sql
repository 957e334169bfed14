-- Schema version 7: an editor may share a bulletin that is not yet published with readers
-- (for comment before release); readers see such drafts, within their TLP ceiling.
ALTER TABLE bulletins ADD COLUMN shared_with_readers INTEGER NOT NULL DEFAULT 0;

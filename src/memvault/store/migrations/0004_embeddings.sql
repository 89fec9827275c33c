-- Embeddings are computed off the write path: a memory is stored at once and its vector filled
-- in later by the embedding worker. `embedding_synced` = 0 marks a vector written here that the
-- replica has not received yet (the memory itself travels through the outbox; its vector may
-- arrive after it). `embedding_error` keeps why a provider refused a text, so it is not retried
-- until the text or the model changes.

ALTER TABLE memories ADD COLUMN embedding_synced INTEGER NOT NULL DEFAULT 1;
ALTER TABLE memories ADD COLUMN embedding_error TEXT;

CREATE INDEX memories_unembedded ON memories (seq) WHERE embedding IS NULL AND deleted_at IS NULL;
CREATE INDEX memories_embedding_unsynced ON memories (seq) WHERE embedding_synced = 0;

-- A new text needs a new vector: forget the last refusal with the old one.
CREATE TRIGGER memories_embedding_error_reset AFTER UPDATE OF content ON memories
WHEN old.content IS NOT new.content AND new.embedding_error IS NOT NULL BEGIN
    UPDATE memories SET embedding_error = NULL WHERE seq = new.seq;
END;

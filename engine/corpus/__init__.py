"""The training corpus factory: procedural multi-stem songs rendered with a GM soundfont,
captions and hums from their metadata, user audio ingestion, shards and their stats."""

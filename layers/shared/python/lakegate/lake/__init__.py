"""The lake side: raw Firehose objects into Parquet, quarantine, schema evolution, TTL and the catalog."""

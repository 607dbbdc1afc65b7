"""The local dev server: the real ingest handler behind an emulated HTTP API, on AWS emulated by moto."""

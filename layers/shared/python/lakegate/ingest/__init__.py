"""The ingest side: the HTTP APIs from an authorised request to rows acknowledged by Firehose."""

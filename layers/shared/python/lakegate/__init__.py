"""lakegate: an events gateway into an S3 data lake (shared domain code, shipped as a Lambda layer)."""

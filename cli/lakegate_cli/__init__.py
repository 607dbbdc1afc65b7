"""`lakegate`: the admin CLI for tokens, data sources and quarantine of a local or deployed stack."""

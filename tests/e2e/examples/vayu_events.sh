# Vayu's batch API, as a Vayu client sends it: JSON, a bearer token, only the base URL changed.
# Its answers to a first and a second send are in vayu_events.json.
curl --request POST \
  --url "$API/events" \
  --header "Authorization: Bearer $TOKEN" \
  --header 'Content-Type: application/json' \
  --data '{"events": [{"name": "report_export", "timestamp": "2026-11-30T09:15:00.250Z", "customerAlias": "acme-eu", "ref": "export-20261130-0001", "data": {"format": "csv", "pages": 12}}]}'

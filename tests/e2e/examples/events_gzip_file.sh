# A gzip file of rows, sent as it is: Content-Encoding tells how to read it.
# answers: 202 {"successful_rows":2,"quarantined_rows":0}
printf '%s\n' \
  '{"ts": "2026-11-30 08:01:00", "store": "Turku", "basket": 2}' \
  '{"ts": "2026-11-30 08:01:09", "store": "Cork", "basket": 5}' | gzip > visits.ndjson.gz
curl -H "Authorization: Bearer $TOKEN" \
  -H "Content-Encoding: gzip" \
  --data-binary @visits.ndjson.gz \
  "$API/v0/events?name=store_visits"

# wait=true: the answer comes once Firehose has acknowledged every row (200 instead of 202).
# answers: 200 {"successful_rows":1,"quarantined_rows":0}
curl -H "Authorization: Bearer $TOKEN" \
  -d '{"ts": "2026-11-30 08:00:40", "store": "Bergen", "basket": 2}' \
  "$API/v0/events?name=store_visits&wait=true"

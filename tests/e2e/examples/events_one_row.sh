# One row, the token in the Authorization header.
# answers: 202 {"successful_rows":1,"quarantined_rows":0}
curl -H "Authorization: Bearer $TOKEN" \
  -d '{"ts": "2026-11-30 08:00:01", "store": "Porto", "basket": 3}' \
  "$API/v0/events?name=store_visits"

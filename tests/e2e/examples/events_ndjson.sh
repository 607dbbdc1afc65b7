# Two rows in one request, one JSON object a line.
# answers: 202 {"successful_rows":2,"quarantined_rows":0}
curl -H "Authorization: Bearer $TOKEN" \
  -d $'{"ts": "2026-11-30 08:00:02", "store": "Lyon", "basket": 1}\n{"ts": "2026-11-30 08:00:05", "store": "Graz", "basket": 7}\n' \
  "$API/v0/events?name=store_visits"

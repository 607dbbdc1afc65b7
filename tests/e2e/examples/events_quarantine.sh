# A line that is no JSON object is quarantined with its error; the rest of the request lands.
# answers: 202 {"successful_rows":1,"quarantined_rows":1}
curl -H "Authorization: Bearer $TOKEN" \
  -d $'{"ts": "2026-11-30 08:03:00", "store": "Oslo", "basket": 4}\nnot a row\n' \
  "$API/v0/events?name=store_visits"

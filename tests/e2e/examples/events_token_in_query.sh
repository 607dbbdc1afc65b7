# The token as a query parameter, for clients that cannot set a header.
# answers: 202 {"successful_rows":1,"quarantined_rows":0}
curl -d '{"ts": "2026-11-30 08:00:51", "store": "Malmo", "basket": 6}' \
  "$API/v0/events?name=store_visits&token=$TOKEN"

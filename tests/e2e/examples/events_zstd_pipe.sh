# Rows compressed with zstd on the way, read from curl's standard input.
# answers: 202 {"successful_rows":2,"quarantined_rows":0}
printf '%s\n' \
  '{"ts": "2026-11-30 08:02:00", "store": "Riga", "basket": 8}' \
  '{"ts": "2026-11-30 08:02:30", "store": "Bari", "basket": 1}' |
  zstd -q -c |
  curl -H "Authorization: Bearer $TOKEN" \
    -H "Content-Encoding: zstd" \
    --data-binary @- \
    "$API/v0/events?name=store_visits"

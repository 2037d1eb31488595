# PII replacement: each kind becomes its placeholder token and is counted;
# look-alikes (version numbers, decimals, ids) are left alone.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

doc p "$good_english\\nWrite to jane.doe@example.org or call +1 415 555 2671. The server 192.0.2.17 and 2001:db8::1 answer. Pay with 4111 1111 1111 1111. Version 1.2.3.4.5 costs 3.14159265358979 and order 4111111111111112 shipped. 电话13800138000。" \
    >"$WORK/in.jsonl"

expect_exit 0 "$(tool clean)" --set pii=all "$WORK/in.jsonl" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json"
expect_grep 'Write to \|\|\|EMAIL_ADDRESS\|\|\| or call \|\|\|PHONE_NUMBER\|\|\|\.' "$WORK/out.jsonl"
expect_grep 'The server \|\|\|IP_ADDRESS\|\|\| and \|\|\|IP_ADDRESS\|\|\| answer' "$WORK/out.jsonl"
expect_grep 'Pay with \|\|\|CREDIT_CARD\|\|\|\.' "$WORK/out.jsonl"
expect_grep 'Version 1\.2\.3\.4\.5 costs 3\.14159265358979 and order 4111111111111112' \
    "$WORK/out.jsonl"
expect_grep '电话\|\|\|PHONE_NUMBER\|\|\|。' "$WORK/out.jsonl"
expect_stat "$WORK/stats.json" pii_email 1
expect_stat "$WORK/stats.json" pii_ipv4 1
expect_stat "$WORK/stats.json" pii_ipv6 1
expect_stat "$WORK/stats.json" pii_phone 2
expect_stat "$WORK/stats.json" pii_credit_card 1

# Only the kinds named are replaced.
expect_exit 0 "$(tool clean)" --set pii=email "$WORK/in.jsonl" -o "$WORK/email.jsonl"
expect_grep '192\.0\.2\.17' "$WORK/email.jsonl"
expect_exit 2 "$(tool clean)" --set pii=passport "$WORK/in.jsonl"
expect_grep 'invalid value for pii: "passport"' "$WORK/err"

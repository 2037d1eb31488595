/*
 * Personal data in text: finds e-mail addresses, IPv4 and IPv6 addresses,
 * phone numbers and payment card numbers and replaces each with a
 * placeholder token (the tokens dolma's PII tagger writes):
 *
 *   |||EMAIL_ADDRESS|||  |||IP_ADDRESS|||  |||PHONE_NUMBER|||  |||CREDIT_CARD|||
 *
 * The scanner is hand-written, one pass over the bytes with no regular
 * expressions, because each kind needs a check a pattern cannot express
 * (octet ranges, inet_pton for IPv6, the Luhn checksum for cards).
 */
#ifndef LMPIPE_PII_H
#define LMPIPE_PII_H

#include <stddef.h>
#include <stdint.h>

enum {
    PII_EMAIL = 1u << 0,
    PII_IPV4 = 1u << 1,
    PII_IPV6 = 1u << 2,
    PII_PHONE = 1u << 3,
    PII_CREDIT_CARD = 1u << 4,
    PII_ALL = 0x1f,
};

typedef struct {
    uint64_t emails;
    uint64_t ipv4;
    uint64_t ipv6;
    uint64_t phones;
    uint64_t credit_cards;
} pii_counts_t;

/*
 * Replaces every item of the kinds in `kinds` (PII_* bits) in `length` bytes
 * of UTF-8 text and adds the replacements to `counts`. What counts:
 *  - e-mail: local@domain, the domain with a dot and a top-level label of
 *    two or more letters;
 *  - IPv4: four decimal octets 0..255, not part of a longer dotted number
 *    (so version strings like 1.2.3.4.5 are left alone);
 *  - IPv6: a run of hex digits, colons and dots that inet_pton accepts, with
 *    at least two non-empty groups (so "std::" and times like 12:30:45 are
 *    left alone);
 *  - payment card: 13 to 19 digits, optionally grouped by single spaces or
 *    hyphens, with a card-network prefix (Visa, Mastercard, American
 *    Express, Discover, JCB, Diners, UnionPay). The Luhn checksum must be
 *    valid, so decimals, ids and random digit strings are left alone;
 *  - phone: "+" and 8 to 15 digits in 2 to 6 groups. Also a North American
 *    style number of 10 or 11 digits written as 3 groups ("555-123-4567",
 *    "(555) 123-4567"), and a Chinese mobile number (11 digits starting
 *    13..19).
 * None of these may touch an ASCII letter or digit on either side; CJK
 * characters may, since Chinese text writes numbers right beside them.
 * When nothing is found, *out is NULL and the caller keeps its text; else
 * *out is a malloc'ed NUL-terminated copy with the replacements. Returns 0,
 * or -1 when out of memory. Cost: one pass over the text.
 */
int pii_redact(const char *text, size_t length, unsigned kinds, char **out, size_t *out_length,
               pii_counts_t *counts);

/* True when the digits of `digits` (ASCII '0'..'9' only) pass the Luhn checksum. */
int pii_luhn_valid(const char *digits, size_t count);

#endif

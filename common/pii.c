/*
 * Personal data scanner and redaction (see pii.h).
 */
#include "pii.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_EMAIL, KIND_IPV4, KIND_IPV6, KIND_PHONE, KIND_CARD } pii_kind_t;

static const char *const placeholders[] = {
    "|||EMAIL_ADDRESS|||", "|||IP_ADDRESS|||", "|||IP_ADDRESS|||", "|||PHONE_NUMBER|||",
    "|||CREDIT_CARD|||",
};

typedef struct {
    size_t start;
    size_t end;
    pii_kind_t kind;
} pii_match_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_hex(char c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* ASCII letters, digits and '_' glue tokens. Non-ASCII characters do not, because Chinese
 * and Japanese write numbers and addresses right next to their own characters. */
static bool is_word_byte(char c)
{
    return is_digit(c) || is_alpha(c) || c == '_';
}

static bool is_email_local(char c)
{
    return is_digit(c) || is_alpha(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
           c == '-';
}

static bool is_email_domain(char c)
{
    return is_digit(c) || is_alpha(c) || c == '.' || c == '-';
}

int pii_luhn_valid(const char *digits, size_t count)
{
    int sum = 0;
    for (size_t i = 0; i < count; i++) {
        int d = digits[count - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return count > 0 && sum % 10 == 0;
}

/* An e-mail address around the '@' at `at`; `floor` is the end of the previous match. */
static bool match_email(const char *t, size_t n, size_t at, size_t floor, pii_match_t *m)
{
    size_t start = at;
    while (start > floor && at - start < 64 && is_email_local(t[start - 1]))
        start--;
    while (start < at && t[start] == '.')
        start++;
    size_t end = at + 1;
    while (end < n && end - at < 256 && is_email_domain(t[end]))
        end++;
    while (end > at + 1 && (t[end - 1] == '.' || t[end - 1] == '-'))
        end--;
    if (start == at || end == at + 1 || t[at + 1] == '.' || t[at + 1] == '-')
        return false;
    const char *last_dot = NULL;
    for (size_t i = at + 1; i < end; i++) {
        if (t[i] == '.') {
            if (t[i - 1] == '.')
                return false;
            last_dot = t + i;
        }
    }
    if (!last_dot || t + end - last_dot - 1 < 2)
        return false;
    for (const char *p = last_dot + 1; p < t + end; p++) {
        if (!is_alpha(*p))
            return false;
    }
    *m = (pii_match_t){start, end, KIND_EMAIL};
    return true;
}

static bool boundary_before(const char *t, size_t start)
{
    if (start == 0)
        return true;
    char c = t[start - 1];
    if (is_word_byte(c))
        return false;
    /* "1.2.3.4" inside "v10.1.2.3.4" or "-1.2.3.4" inside a longer number */
    return !((c == '.' || c == ':') && start >= 2 && is_hex(t[start - 2]));
}

static bool boundary_after(const char *t, size_t n, size_t end)
{
    if (end >= n)
        return true;
    char c = t[end];
    if (is_word_byte(c))
        return false;
    return !((c == '.' || c == ':' || c == '-') && end + 1 < n && is_digit(t[end + 1]));
}

static bool match_ipv4(const char *t, size_t n, size_t start, pii_match_t *m)
{
    size_t i = start;
    for (int octet = 0; octet < 4; octet++) {
        if (octet > 0) {
            if (i >= n || t[i] != '.')
                return false;
            i++;
        }
        int value = 0, digits = 0;
        while (i < n && is_digit(t[i]) && digits < 4) {
            value = value * 10 + (t[i] - '0');
            digits++;
            i++;
        }
        if (digits == 0 || digits > 3 || value > 255)
            return false;
    }
    if (!boundary_after(t, n, i))
        return false;
    *m = (pii_match_t){start, i, KIND_IPV4};
    return true;
}

static bool match_ipv6(const char *t, size_t n, size_t start, pii_match_t *m)
{
    size_t end = start;
    size_t colons = 0;
    while (end < n && end - start < 45 && (is_hex(t[end]) || t[end] == ':' || t[end] == '.')) {
        colons += t[end] == ':';
        end++;
    }
    while (end > start && (t[end - 1] == '.' || (t[end - 1] == ':' && t[end - 2] != ':')))
        end--;
    if (colons < 2 || end - start < 3 || end - start > 45 || !boundary_after(t, n, end))
        return false;
    int groups = 0;
    for (size_t i = start; i < end; i++) {
        if (is_hex(t[i]) && (i == start || !is_hex(t[i - 1])))
            groups++;
    }
    if (groups < 2)
        return false;
    char copy[46];
    memcpy(copy, t + start, end - start);
    copy[end - start] = '\0';
    unsigned char address[16];
    if (inet_pton(AF_INET6, copy, address) != 1)
        return false;
    *m = (pii_match_t){start, end, KIND_IPV6};
    return true;
}

static bool card_prefix_known(const char *d, size_t count)
{
    int two = (d[0] - '0') * 10 + (d[1] - '0');
    int four = two * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    if (d[0] == '4')
        return count == 13 || count == 16 || count == 19;                  /* Visa */
    if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720))
        return count == 16;                                                /* Mastercard */
    if (two == 34 || two == 37)
        return count == 15;                                                /* American Express */
    if (four == 6011 || two == 65 || (four >= 6440 && four <= 6499))
        return count >= 16;                                                /* Discover */
    if (four >= 3528 && four <= 3589)
        return count >= 16;                                                /* JCB */
    if (two == 36 || two == 38 || (four >= 3000 && four <= 3059))
        return count >= 14;                                                /* Diners Club */
    return two == 62 && count >= 16;                                       /* UnionPay */
}

static bool match_card(const char *t, size_t n, size_t start, pii_match_t *m)
{
    char digits[20];
    size_t count = 0, i = start;
    char separator = 0;
    while (i < n && count < 20) {
        if (is_digit(t[i])) {
            digits[count++] = t[i++];
            continue;
        }
        bool joins = (t[i] == ' ' || t[i] == '-') && i + 1 < n && is_digit(t[i + 1]);
        if (!joins || (separator && t[i] != separator))
            break;
        separator = t[i++];
    }
    if (count < 13 || count > 19 || !boundary_after(t, n, i))
        return false;
    if (!card_prefix_known(digits, count) || !pii_luhn_valid(digits, count))
        return false;
    *m = (pii_match_t){start, i, KIND_CARD};
    return true;
}

/* Splits a phone candidate into digit groups; returns false on a malformed shape. */
static bool phone_groups(const char *t, size_t n, size_t start, size_t *end, int *groups,
                         int *digits, int *last_group)
{
    size_t i = start + (t[start] == '+');
    int group = 0;
    bool parenthesized = false;
    *groups = *digits = 0;
    while (i < n) {
        char c = t[i];
        if (is_digit(c)) {
            if (group == 0)
                (*groups)++;
            group++;
            (*digits)++;
            i++;
            continue;
        }
        if (group > 0)
            *last_group = group;
        bool next_digit = i + 1 < n && is_digit(t[i + 1]);
        if (c == '(' && *groups == 0 && !parenthesized) {
            parenthesized = true;
        } else if (c == ')' && parenthesized && group > 0) {
            if (i + 1 < n && t[i + 1] == ' ' && i + 2 < n && is_digit(t[i + 2]))
                i++;
            else if (!next_digit && !(i + 1 < n && t[i + 1] == '-'))
                break;
        } else if ((c == ' ' || c == '-' || c == '.') && group > 0 && next_digit) {
            /* a single separator between two groups */
        } else {
            break;
        }
        group = 0;
        i++;
    }
    if (group > 0)
        *last_group = group;
    *end = i;
    while (*end > start && !is_digit(t[*end - 1]))
        (*end)--;
    return *digits > 0;
}

static bool match_phone(const char *t, size_t n, size_t start, pii_match_t *m)
{
    size_t end;
    int groups, digits, last_group = 0;
    if (!phone_groups(t, n, start, &end, &groups, &digits, &last_group))
        return false;
    if (!boundary_after(t, n, end))
        return false;
    bool international = t[start] == '+' && digits >= 8 && digits <= 15 && groups >= 2 &&
                         groups <= 6;
    bool north_american = t[start] != '+' && (digits == 10 || digits == 11) && groups == 3 &&
                          last_group == 4;
    bool chinese_mobile = t[start] == '1' && groups == 1 && digits == 11 &&
                          t[start + 1] >= '3' && t[start + 1] <= '9';
    if (!international && !north_american && !chinese_mobile)
        return false;
    *m = (pii_match_t){start, end, KIND_PHONE};
    return true;
}

static bool kind_enabled(unsigned kinds, pii_kind_t kind)
{
    static const unsigned bits[] = {PII_EMAIL, PII_IPV4, PII_IPV6, PII_PHONE, PII_CREDIT_CARD};
    return (kinds & bits[kind]) != 0;
}

/* Tries the number-like kinds at a token start. */
static bool match_token(const char *t, size_t n, size_t i, unsigned kinds, pii_match_t *m)
{
    if (is_digit(t[i])) {
        if ((kinds & PII_IPV4) && match_ipv4(t, n, i, m))
            return true;
        if ((kinds & PII_CREDIT_CARD) && match_card(t, n, i, m))
            return true;
    }
    if ((kinds & PII_IPV6) && (is_hex(t[i]) || t[i] == ':') && match_ipv6(t, n, i, m))
        return true;
    if ((kinds & PII_PHONE) && (is_digit(t[i]) || t[i] == '+' || t[i] == '(') &&
        match_phone(t, n, i, m))
        return true;
    return false;
}

typedef struct {
    pii_match_t *items;
    size_t count;
    size_t capacity;
} match_list_t;

static int push_match(match_list_t *list, const pii_match_t *m)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        pii_match_t *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown)
            return -1;
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = *m;
    return 0;
}

static int find_matches(const char *t, size_t n, unsigned kinds, match_list_t *list)
{
    size_t floor = 0;   /* end of the last match: earlier bytes are taken */
    size_t i = 0;
    while (i < n) {
        pii_match_t m;
        bool found = false;
        if (t[i] == '@' && (kinds & PII_EMAIL))
            found = match_email(t, n, i, floor, &m);
        else if ((is_hex(t[i]) || t[i] == '+' || t[i] == '(' || t[i] == ':') &&
                 boundary_before(t, i))
            found = match_token(t, n, i, kinds, &m);
        if (!found) {
            i++;
            continue;
        }
        /* An e-mail starts before `i`, so it replaces nothing already matched. */
        if (push_match(list, &m) != 0)
            return -1;
        floor = i = m.end;
    }
    return 0;
}

static void count_match(pii_counts_t *counts, pii_kind_t kind)
{
    uint64_t *fields[] = {&counts->emails, &counts->ipv4, &counts->ipv6, &counts->phones,
                          &counts->credit_cards};
    (*fields[kind])++;
}

int pii_redact(const char *text, size_t length, unsigned kinds, char **out, size_t *out_length,
               pii_counts_t *counts)
{
    *out = NULL;
    *out_length = 0;
    match_list_t list = {0};
    if (find_matches(text, length, kinds, &list) != 0) {
        free(list.items);
        return -1;
    }
    if (list.count == 0)
        return 0;

    size_t capacity = length + 1;
    for (size_t i = 0; i < list.count; i++)
        capacity += strlen(placeholders[list.items[i].kind]);
    char *result = malloc(capacity);
    if (!result) {
        free(list.items);
        return -1;
    }
    size_t written = 0, copied = 0;
    for (size_t i = 0; i < list.count; i++) {
        const pii_match_t *m = &list.items[i];
        if (!kind_enabled(kinds, m->kind))
            continue;
        memcpy(result + written, text + copied, m->start - copied);
        written += m->start - copied;
        size_t token_length = strlen(placeholders[m->kind]);
        memcpy(result + written, placeholders[m->kind], token_length);
        written += token_length;
        copied = m->end;
        count_match(counts, m->kind);
    }
    memcpy(result + written, text + copied, length - copied);
    written += length - copied;
    result[written] = '\0';
    free(list.items);
    *out = result;
    *out_length = written;
    return 0;
}

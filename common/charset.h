/*
 * Character encoding of web pages: detection and conversion to UTF-8.
 *
 * The encoding is taken from the first source that names one, in the order a
 * browser uses (WHATWG Encoding and HTML "determining the character
 * encoding"): a byte order mark, the HTTP Content-Type charset parameter, a
 * <meta charset> or <meta http-equiv="Content-Type"> in the first 1024 bytes,
 * and finally detection. Detection accepts valid UTF-8 first and otherwise uses
 * uchardet. Labels are mapped as WHATWG maps them, so iso-8859-1, latin1 and
 * us-ascii decode as windows-1252, and gb2312 and gbk decode as gb18030.
 *
 * Conversion uses glibc iconv. Invalid or unmappable input never stops it:
 * each bad sequence becomes U+FFFD and is counted.
 */
#ifndef LMPIPE_CHARSET_H
#define LMPIPE_CHARSET_H

#include <stddef.h>

typedef enum {
    CHARSET_SOURCE_BOM,
    CHARSET_SOURCE_HTTP,
    CHARSET_SOURCE_META,
    CHARSET_SOURCE_DETECTED,
    CHARSET_SOURCE_DEFAULT,     /* nothing named or detected one: windows-1252 */
} charset_source_t;

#define CHARSET_NAME_MAX 40

/* Lowercase name of a source, e.g. "http", for stats and messages. */
const char *charset_source_name(charset_source_t source);

/*
 * Maps an encoding label to the canonical lowercase name used here (a WHATWG
 * encoding name that iconv understands), e.g. " Latin1 " -> "windows-1252",
 * "GBK" -> "gb18030", "utf8" -> "utf-8". Unknown labels are returned
 * lowercased and trimmed. Writes at most `size` bytes including the NUL;
 * returns 0, or -1 when the label is empty or too long.
 */
int charset_normalize_label(const char *label, char *out, size_t size);

/* Extracts and normalizes the charset parameter of a Content-Type value
 * ("text/html; charset=GBK" -> "gb18030"). Returns 0, or -1 when absent. */
int charset_from_content_type(const char *content_type, char *out, size_t size);

/* Scans the first 1024 bytes of an HTML document for a <meta> that names a
 * charset. Returns 0 with the normalized name, or -1 when there is none. */
int charset_from_html_meta(const unsigned char *data, size_t length, char *out, size_t size);

/* True when the bytes are entirely valid UTF-8 (no overlongs or surrogates). */
int charset_is_valid_utf8(const unsigned char *data, size_t length);

/*
 * Determines the encoding of `data` as described at the top of this file.
 * `content_type` is the HTTP Content-Type value or NULL; `is_html` enables the
 * <meta> scan. Writes the normalized name into `out` (CHARSET_NAME_MAX bytes
 * suffice) and returns where it came from.
 */
charset_source_t charset_determine(const unsigned char *data, size_t length,
                                   const char *content_type, int is_html,
                                   char *out, size_t size);

/*
 * Converts `data` from `charset` to UTF-8 and strips a leading BOM. Sets
 * *output (malloc'ed, NUL-terminated), *output_length and *replacements (the
 * number of U+FFFD written for invalid input). When iconv does not know the
 * charset, the input is decoded as UTF-8 with replacements and *used_fallback
 * is set to 1. Returns 0, or -1 on memory failure.
 */
int charset_to_utf8(const unsigned char *data, size_t length, const char *charset,
                    char **output, size_t *output_length, size_t *replacements,
                    int *used_fallback);

#endif

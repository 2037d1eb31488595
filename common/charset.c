/*
 * Charset detection and conversion to UTF-8 (see charset.h).
 *
 * The label table follows the WHATWG Encoding Standard's label list for the
 * encodings that matter on the web. uchardet (0.0.7 in Debian 12) names its
 * results with labels from the same family, so one table normalizes both.
 */
#include "charset.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

/* The HTML prescan looks at this many bytes for a <meta> charset. */
#define META_SCAN_BYTES 1024
/* uchardet reads at most this much of a document, because more rarely changes its result. */
#define DETECT_SCAN_BYTES (64 * 1024)

static const char replacement_utf8[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

typedef struct {
    const char *label;
    const char *name;
} charset_label_t;

/* Lowercase labels and the canonical name each one decodes as. */
static const charset_label_t charset_labels[] = {
    {"utf-8", "utf-8"}, {"utf8", "utf-8"}, {"unicode-1-1-utf-8", "utf-8"},
    {"unicode11utf8", "utf-8"}, {"unicode20utf8", "utf-8"}, {"x-unicode20utf8", "utf-8"},

    {"windows-1252", "windows-1252"}, {"cp1252", "windows-1252"},
    {"x-cp1252", "windows-1252"}, {"iso-8859-1", "windows-1252"},
    {"iso8859-1", "windows-1252"}, {"iso88591", "windows-1252"},
    {"iso_8859-1", "windows-1252"}, {"iso_8859-1:1987", "windows-1252"},
    {"iso-ir-100", "windows-1252"}, {"latin1", "windows-1252"}, {"l1", "windows-1252"},
    {"cp819", "windows-1252"}, {"ibm819", "windows-1252"}, {"csisolatin1", "windows-1252"},
    {"us-ascii", "windows-1252"}, {"ascii", "windows-1252"},
    {"ansi_x3.4-1968", "windows-1252"},

    {"gb18030", "gb18030"}, {"gbk", "gb18030"}, {"x-gbk", "gb18030"}, {"gb2312", "gb18030"},
    {"gb_2312", "gb18030"}, {"gb_2312-80", "gb18030"}, {"csgb2312", "gb18030"},
    {"csiso58gb231280", "gb18030"}, {"iso-ir-58", "gb18030"}, {"chinese", "gb18030"},
    {"cp936", "gb18030"}, {"windows-936", "gb18030"},
    {"hz-gb-2312", "hz-gb-2312"},

    {"big5", "big5"}, {"big5-hkscs", "big5"}, {"cn-big5", "big5"}, {"csbig5", "big5"},
    {"x-x-big5", "big5"}, {"euc-tw", "euc-tw"},

    {"shift_jis", "shift_jis"}, {"shift-jis", "shift_jis"}, {"sjis", "shift_jis"},
    {"x-sjis", "shift_jis"}, {"ms_kanji", "shift_jis"}, {"ms932", "shift_jis"},
    {"windows-31j", "shift_jis"}, {"csshiftjis", "shift_jis"},
    {"euc-jp", "euc-jp"}, {"x-euc-jp", "euc-jp"}, {"cseucpkdfmtjapanese", "euc-jp"},
    {"iso-2022-jp", "iso-2022-jp"}, {"csiso2022jp", "iso-2022-jp"},

    {"euc-kr", "euc-kr"}, {"cseuckr", "euc-kr"}, {"korean", "euc-kr"},
    {"ks_c_5601-1987", "euc-kr"}, {"ks_c_5601-1989", "euc-kr"}, {"ksc5601", "euc-kr"},
    {"ksc_5601", "euc-kr"}, {"windows-949", "euc-kr"}, {"iso-ir-149", "euc-kr"},

    {"utf-16le", "utf-16le"}, {"utf-16", "utf-16le"}, {"unicode", "utf-16le"},
    {"ucs-2", "utf-16le"}, {"csunicode", "utf-16le"}, {"utf-16be", "utf-16be"},

    {"windows-1250", "windows-1250"}, {"cp1250", "windows-1250"},
    {"windows-1251", "windows-1251"}, {"cp1251", "windows-1251"},
    {"windows-1253", "windows-1253"}, {"cp1253", "windows-1253"},
    {"windows-1254", "windows-1254"}, {"cp1254", "windows-1254"},
    {"iso-8859-9", "windows-1254"}, {"latin5", "windows-1254"},
    {"windows-1255", "windows-1255"}, {"cp1255", "windows-1255"},
    {"windows-1256", "windows-1256"}, {"cp1256", "windows-1256"},
    {"windows-1257", "windows-1257"}, {"cp1257", "windows-1257"},
    {"windows-1258", "windows-1258"}, {"cp1258", "windows-1258"},
    {"windows-874", "windows-874"}, {"tis-620", "windows-874"}, {"iso-8859-11", "windows-874"},
    {"koi8-r", "koi8-r"}, {"koi8", "koi8-r"}, {"cskoi8r", "koi8-r"}, {"koi8-u", "koi8-u"},
    {"ibm866", "ibm866"}, {"cp866", "ibm866"}, {"866", "ibm866"},
    {"macintosh", "macintosh"}, {"mac", "macintosh"}, {"x-mac-roman", "macintosh"},
    {"x-mac-cyrillic", "x-mac-cyrillic"}, {"mac-cyrillic", "x-mac-cyrillic"},
    {"iso-8859-2", "iso-8859-2"}, {"latin2", "iso-8859-2"}, {"iso-8859-3", "iso-8859-3"},
    {"iso-8859-4", "iso-8859-4"}, {"iso-8859-5", "iso-8859-5"}, {"iso-8859-6", "iso-8859-6"},
    {"iso-8859-7", "iso-8859-7"}, {"iso-8859-8", "iso-8859-8"}, {"iso-8859-10", "iso-8859-10"},
    {"iso-8859-13", "iso-8859-13"}, {"iso-8859-14", "iso-8859-14"},
    {"iso-8859-15", "iso-8859-15"}, {"latin9", "iso-8859-15"}, {"iso-8859-16", "iso-8859-16"},
};

/* Canonical names whose iconv name differs, chosen as the WHATWG decoders
 * (windows code pages where the web uses supersets of the ISO names). */
static const charset_label_t iconv_names[] = {
    {"big5", "BIG5-HKSCS"},
    {"shift_jis", "CP932"},
    {"euc-kr", "CP949"},
    {"hz-gb-2312", "HZ"},
    {"x-mac-cyrillic", "MAC-CYRILLIC"},
};

const char *charset_source_name(charset_source_t source)
{
    switch (source) {
    case CHARSET_SOURCE_BOM:
        return "bom";
    case CHARSET_SOURCE_HTTP:
        return "http";
    case CHARSET_SOURCE_META:
        return "meta";
    case CHARSET_SOURCE_DETECTED:
        return "detected";
    case CHARSET_SOURCE_DEFAULT:
        break;
    }
    return "default";
}

int charset_normalize_label(const char *label, char *out, size_t size)
{
    if (!label)
        return -1;
    while (isspace((unsigned char)*label) || *label == '"' || *label == '\'')
        label++;
    size_t length = strlen(label);
    while (length > 0 && (isspace((unsigned char)label[length - 1]) ||
                          label[length - 1] == '"' || label[length - 1] == '\''))
        length--;
    if (length == 0 || length >= size || length >= CHARSET_NAME_MAX)
        return -1;

    char lower[CHARSET_NAME_MAX];
    for (size_t i = 0; i < length; i++)
        lower[i] = (char)tolower((unsigned char)label[i]);
    lower[length] = '\0';

    for (size_t i = 0; i < sizeof charset_labels / sizeof charset_labels[0]; i++) {
        if (strcmp(lower, charset_labels[i].label) == 0) {
            snprintf(out, size, "%s", charset_labels[i].name);
            return 0;
        }
    }
    memcpy(out, lower, length + 1);
    return 0;
}

/* Finds "charset" in `text`, skips spaces and "=", and copies the value
 * (quoted, or up to a space or ';'). Returns 0 or -1. */
static int extract_charset_parameter(const char *text, size_t length, char *out, size_t size)
{
    for (size_t i = 0; i + 7 <= length; i++) {
        if (strncasecmp(text + i, "charset", 7) != 0)
            continue;
        size_t position = i + 7;
        while (position < length && isspace((unsigned char)text[position]))
            position++;
        if (position >= length || text[position] != '=')
            continue;
        position++;
        while (position < length && isspace((unsigned char)text[position]))
            position++;
        char quote = 0;
        if (position < length && (text[position] == '"' || text[position] == '\''))
            quote = text[position++];
        size_t value_start = position;
        while (position < length && text[position] != quote &&
               (quote || (!isspace((unsigned char)text[position]) && text[position] != ';')))
            position++;
        size_t value_length = position - value_start;
        if (value_length == 0 || value_length >= CHARSET_NAME_MAX)
            return -1;
        char value[CHARSET_NAME_MAX];
        memcpy(value, text + value_start, value_length);
        value[value_length] = '\0';
        return charset_normalize_label(value, out, size);
    }
    return -1;
}

int charset_from_content_type(const char *content_type, char *out, size_t size)
{
    if (!content_type)
        return -1;
    const char *parameters = strchr(content_type, ';');
    if (!parameters)
        return -1;
    return extract_charset_parameter(parameters, strlen(parameters), out, size);
}

/* ------------------------------------------------------------------------ */
/* <meta> prescan, a simplified form of the HTML standard's prescan          */

typedef struct {
    const unsigned char *data;
    size_t length;
    size_t position;
} scan_t;

static bool scan_starts_with(const scan_t *scan, const char *prefix)
{
    size_t prefix_length = strlen(prefix);
    return scan->position + prefix_length <= scan->length &&
           strncasecmp((const char *)scan->data + scan->position, prefix, prefix_length) == 0;
}

static bool is_html_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/*
 * Reads one attribute of a tag at the scan position into name and value
 * (lowercased name, truncated to the buffer sizes). Returns false at '>' or
 * the end of the data.
 */
static bool scan_attribute(scan_t *scan, char *name, size_t name_size, char *value,
                           size_t value_size)
{
    const unsigned char *data = scan->data;
    while (scan->position < scan->length &&
           (is_html_space(data[scan->position]) || data[scan->position] == '/'))
        scan->position++;
    if (scan->position >= scan->length || data[scan->position] == '>')
        return false;

    size_t name_length = 0;
    while (scan->position < scan->length) {
        unsigned char c = data[scan->position];
        if (is_html_space(c) || c == '=' || c == '>' || (c == '/' && name_length > 0))
            break;
        if (name_length + 1 < name_size)
            name[name_length++] = (char)tolower(c);
        scan->position++;
    }
    name[name_length] = '\0';
    value[0] = '\0';
    while (scan->position < scan->length && is_html_space(data[scan->position]))
        scan->position++;
    if (scan->position >= scan->length || data[scan->position] != '=')
        return true;
    scan->position++;
    while (scan->position < scan->length && is_html_space(data[scan->position]))
        scan->position++;

    size_t value_length = 0;
    unsigned char quote = 0;
    if (scan->position < scan->length &&
        (data[scan->position] == '"' || data[scan->position] == '\''))
        quote = data[scan->position++];
    while (scan->position < scan->length) {
        unsigned char c = data[scan->position];
        if (quote ? c == quote : (is_html_space(c) || c == '>'))
            break;
        if (value_length + 1 < value_size)
            value[value_length++] = (char)c;
        scan->position++;
    }
    if (quote && scan->position < scan->length)
        scan->position++;
    value[value_length] = '\0';
    return true;
}

/* Reads the attributes of a <meta> tag; returns 0 with the charset it names. */
static int scan_meta(scan_t *scan, char *out, size_t size)
{
    char name[32];
    char value[256];
    char from_charset[CHARSET_NAME_MAX] = "";
    char from_content[CHARSET_NAME_MAX] = "";
    bool http_equiv_content_type = false;

    while (scan_attribute(scan, name, sizeof name, value, sizeof value)) {
        if (strcmp(name, "charset") == 0 && !from_charset[0])
            charset_normalize_label(value, from_charset, sizeof from_charset);
        else if (strcmp(name, "http-equiv") == 0)
            http_equiv_content_type = strcasecmp(value, "content-type") == 0;
        else if (strcmp(name, "content") == 0 && !from_content[0])
            extract_charset_parameter(value, strlen(value), from_content, sizeof from_content);
    }

    const char *found = from_charset[0] ? from_charset
                        : (http_equiv_content_type && from_content[0]) ? from_content : NULL;
    if (!found)
        return -1;
    /* A document that declares UTF-16 in ASCII-compatible bytes is not UTF-16. */
    if (strncmp(found, "utf-16", 6) == 0)
        found = "utf-8";
    snprintf(out, size, "%s", found);
    return 0;
}

static void scan_skip_past(scan_t *scan, const char *terminator)
{
    while (scan->position < scan->length && !scan_starts_with(scan, terminator))
        scan->position++;
    scan->position += strlen(terminator);
}

int charset_from_html_meta(const unsigned char *data, size_t length, char *out, size_t size)
{
    scan_t scan = {data, length < META_SCAN_BYTES ? length : META_SCAN_BYTES, 0};
    char name[32];
    char value[256];

    while (scan.position < scan.length) {
        if (scan_starts_with(&scan, "<!--")) {
            scan_skip_past(&scan, "-->");
        } else if (scan_starts_with(&scan, "<meta") && scan.position + 5 < scan.length &&
                   (is_html_space(data[scan.position + 5]) || data[scan.position + 5] == '/')) {
            scan.position += 5;
            if (scan_meta(&scan, out, size) == 0)
                return 0;
        } else if (data[scan.position] == '<' && scan.position + 1 < scan.length &&
                   (isalpha(data[scan.position + 1]) || data[scan.position + 1] == '/')) {
            scan.position += 2;
            while (scan.position < scan.length && !is_html_space(data[scan.position]) &&
                   data[scan.position] != '>')
                scan.position++;
            while (scan_attribute(&scan, name, sizeof name, value, sizeof value))
                ;
            scan.position++;
        } else if (scan_starts_with(&scan, "<!") || scan_starts_with(&scan, "<?")) {
            scan_skip_past(&scan, ">");
        } else {
            scan.position++;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                     */

/* Returns the length of the valid UTF-8 sequence at data[0], 0 when it is
 * invalid, or -1 when it is a valid prefix cut by the end of the data. */
static int utf8_sequence_length(const unsigned char *data, size_t available)
{
    unsigned char lead = data[0];
    if (lead < 0x80)
        return 1;
    int length;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            low = 0xA0; /* no overlongs */
        if (lead == 0xED)
            high = 0x9F; /* no surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            low = 0x90;
        if (lead == 0xF4)
            high = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    for (int i = 1; i < length; i++) {
        if ((size_t)i >= available)
            return -1;
        unsigned char c = data[i];
        unsigned char min = i == 1 ? low : 0x80;
        unsigned char max = i == 1 ? high : 0xBF;
        if (c < min || c > max)
            return 0;
    }
    return length;
}

int charset_is_valid_utf8(const unsigned char *data, size_t length)
{
    size_t i = 0;
    while (i < length) {
        int sequence = utf8_sequence_length(data + i, length - i);
        if (sequence <= 0)
            return 0;
        i += (size_t)sequence;
    }
    return 1;
}

/* Like charset_is_valid_utf8, but a sequence cut at the end of the data (a
 * payload truncated by the crawler) still counts as valid. */
static bool looks_like_utf8(const unsigned char *data, size_t length)
{
    size_t i = 0;
    while (i < length) {
        int sequence = utf8_sequence_length(data + i, length - i);
        if (sequence == 0)
            return false;
        if (sequence < 0)
            return true;
        i += (size_t)sequence;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Detection                                                                 */

static charset_source_t detect(const unsigned char *data, size_t length, char *out, size_t size)
{
    if (looks_like_utf8(data, length)) {
        snprintf(out, size, "utf-8");
        return CHARSET_SOURCE_DETECTED;
    }

    uchardet_t detector = uchardet_new();
    if (detector) {
        size_t scanned = length < DETECT_SCAN_BYTES ? length : DETECT_SCAN_BYTES;
        int status = uchardet_handle_data(detector, (const char *)data, scanned);
        uchardet_data_end(detector);
        const char *name = status == 0 ? uchardet_get_charset(detector) : NULL;
        bool found = name && name[0] && charset_normalize_label(name, out, size) == 0;
        uchardet_delete(detector);
        if (found)
            return CHARSET_SOURCE_DETECTED;
    }
    snprintf(out, size, "windows-1252");
    return CHARSET_SOURCE_DEFAULT;
}

charset_source_t charset_determine(const unsigned char *data, size_t length,
                                   const char *content_type, int is_html,
                                   char *out, size_t size)
{
    if (length >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) {
        snprintf(out, size, "utf-8");
        return CHARSET_SOURCE_BOM;
    }
    if (length >= 2 && data[0] == 0xFF && data[1] == 0xFE) {
        snprintf(out, size, "utf-16le");
        return CHARSET_SOURCE_BOM;
    }
    if (length >= 2 && data[0] == 0xFE && data[1] == 0xFF) {
        snprintf(out, size, "utf-16be");
        return CHARSET_SOURCE_BOM;
    }
    if (charset_from_content_type(content_type, out, size) == 0)
        return CHARSET_SOURCE_HTTP;
    if (is_html && charset_from_html_meta(data, length, out, size) == 0)
        return CHARSET_SOURCE_META;
    return detect(data, length, out, size);
}

/* ------------------------------------------------------------------------ */
/* Conversion                                                                */

typedef struct {
    char *data;
    size_t length;
    size_t capacity;
} utf8_buffer_t;

static int utf8_buffer_reserve(utf8_buffer_t *buffer, size_t extra)
{
    if (buffer->length + extra + 1 <= buffer->capacity)
        return 0;
    size_t capacity = buffer->capacity ? buffer->capacity : 256;
    while (capacity < buffer->length + extra + 1)
        capacity *= 2;
    char *grown = realloc(buffer->data, capacity);
    if (!grown)
        return -1;
    buffer->data = grown;
    buffer->capacity = capacity;
    return 0;
}

static int utf8_buffer_append(utf8_buffer_t *buffer, const void *data, size_t length)
{
    if (utf8_buffer_reserve(buffer, length) < 0)
        return -1;
    memcpy(buffer->data + buffer->length, data, length);
    buffer->length += length;
    return 0;
}

/* True when the 8 bytes at `data` are ASCII and none is NUL. */
static bool is_ascii_word(const unsigned char *data)
{
    uint64_t word;
    memcpy(&word, data, sizeof word);
    const uint64_t high_bits = 0x8080808080808080ull;
    const uint64_t zero_bytes = (word - 0x0101010101010101ull) & ~word & high_bits;
    return (word & high_bits) == 0 && zero_bytes == 0;
}

/* Length of the run of valid UTF-8 without NUL at the start of `data`. */
static size_t valid_utf8_run(const unsigned char *data, size_t length)
{
    size_t run = 0;
    while (run < length) {
        while (run + 8 <= length && is_ascii_word(data + run))
            run += 8;
        if (run >= length)
            break;
        int sequence = data[run] == 0 ? 0 : utf8_sequence_length(data + run, length - run);
        if (sequence <= 0)
            break;
        run += (size_t)sequence;
    }
    return run;
}

/* Copies UTF-8 input, replacing each invalid byte and each NUL with U+FFFD. */
static int copy_utf8(const unsigned char *data, size_t length, utf8_buffer_t *out,
                     size_t *replacements)
{
    if (utf8_buffer_reserve(out, length) < 0)
        return -1;
    size_t i = 0;
    while (i < length) {
        size_t run = valid_utf8_run(data + i, length - i);
        if (utf8_buffer_append(out, data + i, run) < 0)
            return -1;
        i += run;
        if (i >= length)
            break;
        if (utf8_buffer_append(out, replacement_utf8, 3) < 0)
            return -1;
        (*replacements)++;
        i++;
    }
    return 0;
}

static const char *iconv_name_for(const char *charset)
{
    for (size_t i = 0; i < sizeof iconv_names / sizeof iconv_names[0]; i++) {
        if (strcmp(charset, iconv_names[i].label) == 0)
            return iconv_names[i].name;
    }
    return charset;
}

/* Converts with iconv into `converted`; invalid input becomes U+FFFD. */
static int convert_with_iconv(iconv_t converter, const unsigned char *data, size_t length,
                              utf8_buffer_t *converted, size_t *replacements)
{
    char *input = (char *)data;
    size_t input_left = length;
    while (input_left > 0) {
        if (utf8_buffer_reserve(converted, input_left * 2 + 16) < 0)
            return -1;
        char *output = converted->data + converted->length;
        size_t output_left = converted->capacity - converted->length - 1;
        size_t result = iconv(converter, &input, &input_left, &output, &output_left);
        converted->length = (size_t)(output - converted->data);
        if (result != (size_t)-1)
            continue;
        if (errno == E2BIG)
            continue;
        /* EILSEQ: an invalid or unmappable sequence; EINVAL: cut off at the end. */
        if (utf8_buffer_append(converted, replacement_utf8, 3) < 0)
            return -1;
        (*replacements)++;
        if (errno == EINVAL)
            break;
        input++;
        input_left--;
    }
    if (utf8_buffer_reserve(converted, 16) < 0)
        return -1;
    char *output = converted->data + converted->length;
    size_t output_left = converted->capacity - converted->length - 1;
    iconv(converter, NULL, NULL, &output, &output_left);
    converted->length = (size_t)(output - converted->data);
    return 0;
}

int charset_to_utf8(const unsigned char *data, size_t length, const char *charset,
                    char **output, size_t *output_length, size_t *replacements,
                    int *used_fallback)
{
    utf8_buffer_t out = {0};
    *output = NULL;
    *output_length = 0;
    *replacements = 0;
    *used_fallback = 0;

    if (strcmp(charset, "utf-8") == 0) {
        if (copy_utf8(data, length, &out, replacements) < 0)
            goto fail;
    } else {
        iconv_t converter = iconv_open("UTF-8", iconv_name_for(charset));
        if (converter == (iconv_t)-1) {
            *used_fallback = 1;
            if (copy_utf8(data, length, &out, replacements) < 0)
                goto fail;
        } else {
            utf8_buffer_t converted = {0};
            int status = convert_with_iconv(converter, data, length, &converted, replacements);
            iconv_close(converter);
            /* Second pass: NULs from the source become U+FFFD, as in UTF-8 input. */
            if (status == 0)
                status = copy_utf8((const unsigned char *)converted.data, converted.length,
                                   &out, replacements);
            free(converted.data);
            if (status < 0)
                goto fail;
        }
    }

    if (utf8_buffer_reserve(&out, 0) < 0)
        goto fail;
    size_t skip = 0;
    if (out.length >= 3 && (unsigned char)out.data[0] == 0xEF &&
        (unsigned char)out.data[1] == 0xBB && (unsigned char)out.data[2] == 0xBF)
        skip = 3;
    memmove(out.data, out.data + skip, out.length - skip);
    out.length -= skip;
    out.data[out.length] = '\0';
    *output = out.data;
    *output_length = out.length;
    return 0;

fail:
    free(out.data);
    return -1;
}

/*
 * Unit tests for charset detection and conversion to UTF-8: label mapping,
 * the BOM / HTTP / <meta> / detection order, windows-1252, GBK and GB18030
 * Chinese pages, and replacement of invalid bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "check.h"

/* "中文网页，你好世界。" in GBK. */
static const char gbk_text[] = "\xd6\xd0\xce\xc4\xcd\xf8\xd2\xb3\xa3\xac\xc4\xe3\xba\xc3"
                               "\xca\xc0\xbd\xe7\xa1\xa3";
static const char gbk_as_utf8[] = "中文网页，你好世界。";

static void test_normalize_labels(void)
{
    char name[CHARSET_NAME_MAX];
    const struct {
        const char *label;
        const char *expected;
    } cases[] = {
        {"UTF-8", "utf-8"}, {" utf8 ", "utf-8"}, {"\"ISO-8859-1\"", "windows-1252"},
        {"latin1", "windows-1252"}, {"US-ASCII", "windows-1252"}, {"ascii", "windows-1252"},
        {"GB2312", "gb18030"}, {"GBK", "gb18030"}, {"gb18030", "gb18030"},
        {"Shift_JIS", "shift_jis"}, {"Big5", "big5"}, {"iso-8859-9", "windows-1254"},
        {"x-unknown-thing", "x-unknown-thing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT_EQ(charset_normalize_label(cases[i].label, name, sizeof name), 0);
        CHECK_STR_EQ(name, cases[i].expected);
    }
    CHECK_INT_EQ(charset_normalize_label("  ", name, sizeof name), -1);
    CHECK_INT_EQ(charset_normalize_label(NULL, name, sizeof name), -1);
}

static void test_content_type(void)
{
    char name[CHARSET_NAME_MAX];
    CHECK_INT_EQ(charset_from_content_type("text/html; charset=GBK", name, sizeof name), 0);
    CHECK_STR_EQ(name, "gb18030");
    CHECK_INT_EQ(charset_from_content_type("text/html;Charset=\"utf-8\"", name, sizeof name), 0);
    CHECK_STR_EQ(name, "utf-8");
    CHECK_INT_EQ(charset_from_content_type("text/html", name, sizeof name), -1);
    CHECK_INT_EQ(charset_from_content_type(NULL, name, sizeof name), -1);
}

static void test_meta(void)
{
    char name[CHARSET_NAME_MAX];
    const char *html5 = "<!DOCTYPE html><html><head><meta charset=\"gbk\"><title>x</title>";
    CHECK_INT_EQ(charset_from_html_meta((const unsigned char *)html5, strlen(html5), name,
                                        sizeof name), 0);
    CHECK_STR_EQ(name, "gb18030");

    const char *html4 = "<html><head><META HTTP-EQUIV=\"Content-Type\" "
                        "CONTENT=\"text/html; charset=iso-8859-1\"></head>";
    CHECK_INT_EQ(charset_from_html_meta((const unsigned char *)html4, strlen(html4), name,
                                        sizeof name), 0);
    CHECK_STR_EQ(name, "windows-1252");

    /* A charset in a comment or in content without http-equiv does not count. */
    const char *ignored = "<!-- <meta charset=gbk> --><meta name=x content=\"charset=koi8-r\">";
    CHECK_INT_EQ(charset_from_html_meta((const unsigned char *)ignored, strlen(ignored), name,
                                        sizeof name), -1);

    /* UTF-16 declared in ASCII bytes means UTF-8. */
    const char *utf16 = "<meta charset=utf-16>";
    CHECK_INT_EQ(charset_from_html_meta((const unsigned char *)utf16, strlen(utf16), name,
                                        sizeof name), 0);
    CHECK_STR_EQ(name, "utf-8");

    /* Only the first 1024 bytes are scanned. */
    char late[2048];
    memset(late, ' ', sizeof late);
    memcpy(late + 1500, "<meta charset=gbk>", 18);
    CHECK_INT_EQ(charset_from_html_meta((const unsigned char *)late, sizeof late, name,
                                        sizeof name), -1);
}

static void test_determine_order(void)
{
    char name[CHARSET_NAME_MAX];
    const char *bom_page = "\xEF\xBB\xBF<meta charset=gbk>text";
    CHECK_INT_EQ(charset_determine((const unsigned char *)bom_page, strlen(bom_page),
                                   "text/html; charset=koi8-r", 1, name, sizeof name),
                 CHARSET_SOURCE_BOM);
    CHECK_STR_EQ(name, "utf-8");

    const char *meta_page = "<meta charset=gbk>text";
    CHECK_INT_EQ(charset_determine((const unsigned char *)meta_page, strlen(meta_page),
                                   "text/html; charset=koi8-r", 1, name, sizeof name),
                 CHARSET_SOURCE_HTTP);
    CHECK_STR_EQ(name, "koi8-r");
    CHECK_INT_EQ(charset_determine((const unsigned char *)meta_page, strlen(meta_page),
                                   "text/html", 1, name, sizeof name),
                 CHARSET_SOURCE_META);
    CHECK_STR_EQ(name, "gb18030");
    /* Plain text has no <meta> scan. */
    CHECK_INT_EQ(charset_determine((const unsigned char *)meta_page, strlen(meta_page),
                                   "text/plain", 0, name, sizeof name),
                 CHARSET_SOURCE_DETECTED);
    CHECK_STR_EQ(name, "utf-8");
}

static void test_detect_chinese(void)
{
    char name[CHARSET_NAME_MAX];
    /* A longer GBK page without any declaration: uchardet must name GB18030. */
    char page[4096] = "<html><body><p>";
    for (int i = 0; i < 20; i++)
        strcat(page, gbk_text);
    strcat(page, "</p></body></html>");
    CHECK_INT_EQ(charset_determine((const unsigned char *)page, strlen(page), NULL, 1, name,
                                   sizeof name),
                 CHARSET_SOURCE_DETECTED);
    CHECK_STR_EQ(name, "gb18030");

    const char *utf8 = "<p>中文网页，你好世界。</p>";
    CHECK_INT_EQ(charset_determine((const unsigned char *)utf8, strlen(utf8), NULL, 1, name,
                                   sizeof name),
                 CHARSET_SOURCE_DETECTED);
    CHECK_STR_EQ(name, "utf-8");

    /* UTF-8 cut in the middle of a character still detects as UTF-8. */
    CHECK_INT_EQ(charset_determine((const unsigned char *)utf8, strlen(utf8) - 5, NULL, 1,
                                   name, sizeof name),
                 CHARSET_SOURCE_DETECTED);
    CHECK_STR_EQ(name, "utf-8");
}

static void convert(const char *input, size_t length, const char *charset, char **output,
                    size_t *output_length, size_t *replacements)
{
    int fallback = 0;
    CHECK_INT_EQ(charset_to_utf8((const unsigned char *)input, length, charset, output,
                                 output_length, replacements, &fallback), 0);
    CHECK_INT_EQ(fallback, 0);
}

static void test_convert(void)
{
    char *out;
    size_t length;
    size_t replacements;

    convert(gbk_text, strlen(gbk_text), "gb18030", &out, &length, &replacements);
    CHECK_STR_EQ(out, gbk_as_utf8);
    CHECK_INT_EQ(replacements, 0);
    free(out);

    /* A four-byte GB18030 sequence (U+20BB7) that GBK lacks. */
    convert("\x95\x34\xb2\x35", 4, "gb18030", &out, &length, &replacements);
    CHECK_STR_EQ(out, "𠮷");
    free(out);

    const char cp1252[] = "\x80 caf\xe9 \x96 na\xefve";
    convert(cp1252, strlen(cp1252), "windows-1252", &out, &length, &replacements);
    CHECK_STR_EQ(out, "€ café – naïve");
    CHECK_INT_EQ(replacements, 0);
    free(out);

    convert("\xef\xbb\xbfhello", 8, "utf-8", &out, &length, &replacements);
    CHECK_STR_EQ(out, "hello");
    free(out);

    convert("\xff\xfeh\0i\0", 6, "utf-16le", &out, &length, &replacements);
    CHECK_STR_EQ(out, "hi");
    free(out);
}

static void test_invalid_input(void)
{
    char *out;
    size_t length;
    size_t replacements;

    /* Invalid UTF-8 bytes and a NUL each become U+FFFD. */
    const char bad_utf8[] = "a\xff" "b\xc0\xaf" "c";
    convert(bad_utf8, sizeof bad_utf8 - 1, "utf-8", &out, &length, &replacements);
    CHECK_STR_EQ(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c");
    CHECK_INT_EQ(replacements, 3);
    free(out);
    convert("x\0y", 3, "utf-8", &out, &length, &replacements);
    CHECK_STR_EQ(out, "x\xef\xbf\xbdy");
    CHECK_INT_EQ(length, 5);
    free(out);

    /* GBK cut after a lead byte, and a byte GBK leaves undefined. */
    convert("\xd6\xd0\xce", 3, "gb18030", &out, &length, &replacements);
    CHECK_STR_EQ(out, "中\xef\xbf\xbd");
    CHECK_INT_EQ(replacements, 1);
    free(out);
    convert("\xff\xd6\xd0", 3, "gb18030", &out, &length, &replacements);
    CHECK_STR_EQ(out, "\xef\xbf\xbd中");
    CHECK_INT_EQ(replacements, 1);
    free(out);

    /* A charset iconv does not know: decoded as UTF-8, flagged. */
    int fallback = 0;
    CHECK_INT_EQ(charset_to_utf8((const unsigned char *)"ok", 2, "x-no-such-charset", &out,
                                 &length, &replacements, &fallback), 0);
    CHECK_INT_EQ(fallback, 1);
    CHECK_STR_EQ(out, "ok");
    free(out);

    convert("", 0, "windows-1252", &out, &length, &replacements);
    CHECK_STR_EQ(out, "");
    CHECK_INT_EQ(length, 0);
    free(out);
}

static void test_valid_utf8(void)
{
    CHECK(charset_is_valid_utf8((const unsigned char *)"中文 ok", strlen("中文 ok")));
    CHECK(!charset_is_valid_utf8((const unsigned char *)"\xed\xa0\x80", 3)); /* surrogate */
    CHECK(!charset_is_valid_utf8((const unsigned char *)"\xe0\x80\xaf", 3)); /* overlong */
    CHECK(!charset_is_valid_utf8((const unsigned char *)"\xf4\x90\x80\x80", 4));
    CHECK(!charset_is_valid_utf8((const unsigned char *)"\xe4\xb8", 2)); /* cut */
}

int main(void)
{
    test_normalize_labels();
    test_content_type();
    test_meta();
    test_determine_order();
    test_detect_chinese();
    test_convert();
    test_invalid_input();
    test_valid_utf8();
    return CHECK_DONE();
}

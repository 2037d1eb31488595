/* Unit tests for text_normalize: cleaning rules, dedup keys, CJK-aware counts. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "text_normalize.h"

static char *clean_with(const char *text, text_normalization_t form)
{
    char *out = NULL;
    size_t length = 0;
    if (text_clean(text, strlen(text), form, &out, &length) != 0)
        return NULL;
    if (strlen(out) != length) {
        free(out);
        return NULL;
    }
    return out;
}

static void check_clean(const char *input, const char *expected, text_normalization_t form,
                        int line)
{
    char *out = clean_with(input, form);
    if (!out || strcmp(out, expected) != 0)
        fprintf(stderr, "case at line %d\n", line);
    CHECK_STR_EQ(out, expected);
    free(out);
}

#define CLEAN_NFC(in, want) check_clean((in), (want), TEXT_NORMALIZATION_NFC, __LINE__)
#define CLEAN_NFKC(in, want) check_clean((in), (want), TEXT_NORMALIZATION_NFKC, __LINE__)

static void test_line_rules(void)
{
    CLEAN_NFC("a\r\nb\rc", "a\nb\nc");
    CLEAN_NFC("a  \t\nb ", "a\nb");
    CLEAN_NFC("\n\n  \nfirst\n\n\n\n\nsecond\n\n", "first\n\nsecond");
    CLEAN_NFC("one\ntwo", "one\ntwo");
    CLEAN_NFC("    indented code\n\tx", "    indented code\n\tx");
    CLEAN_NFC("", "");
    CLEAN_NFC(" \n\t\n", "");
    CLEAN_NFC("a\xE2\x80\xA8" "b\xE2\x80\xA9" "c\xC2\x85" "d", "a\nb\nc\nd");
}

static void test_control_characters(void)
{
    CLEAN_NFC("a\x01" "b\x7F" "c\x1B[0m", "abc[0m");
    CLEAN_NFC("\xEF\xBB\xBFhello", "hello");
    CLEAN_NFC("zero\xE2\x80\x8Bwidth", "zerowidth");
    CLEAN_NFC("bad \xFF byte", "bad \xEF\xBF\xBD byte");
    CLEAN_NFC("c1\xC2\x9F" "x", "c1x");
}

static void test_spaces(void)
{
    CLEAN_NFC("no\xC2\xA0" "break", "no break");
    CLEAN_NFC("thin\xE2\x80\x89space", "thin space");
    /* U+3000 is kept under NFC inside a line and stripped at the end. */
    CLEAN_NFC("\xE3\x80\x80\xE4\xB8\xAD\xE6\x96\x87\xE3\x80\x80",
              "\xE3\x80\x80\xE4\xB8\xAD\xE6\x96\x87");
    CLEAN_NFKC("\xE3\x80\x80\xE4\xB8\xAD\xE6\x96\x87", " \xE4\xB8\xAD\xE6\x96\x87");
}

static void test_normalization_forms(void)
{
    /* e + combining acute composes to U+00E9 under both forms. */
    CLEAN_NFC("e\xCC\x81", "\xC3\xA9");
    CLEAN_NFKC("e\xCC\x81", "\xC3\xA9");
    /* The fi ligature and full-width A survive NFC and are folded by NFKC. */
    CLEAN_NFC("\xEF\xAC\x81 \xEF\xBC\xA1", "\xEF\xAC\x81 \xEF\xBC\xA1");
    CLEAN_NFKC("\xEF\xAC\x81 \xEF\xBC\xA1", "fi A");
    /* Chinese text is unchanged by both forms. */
    CLEAN_NFC("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",
              "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C");
    /* Text that skips utf8proc under NFC, and characters that send it through. */
    CLEAN_NFC("caf\u00e9 \u2192 \u2260 \u4e2d\u6587\u3002 \u30ab \u0416",
              "caf\u00e9 \u2192 \u2260 \u4e2d\u6587\u3002 \u30ab \u0416");
    CLEAN_NFC("\u4e2d \u212b", "\u4e2d \u00c5");                /* Angstrom sign */
    CLEAN_NFC("\u4e2d \u304b\u3099", "\u4e2d \u304c");          /* ka + voiced mark */
    CLEAN_NFC("\u4e2d \uf900", "\u4e2d \u8c48");                /* compatibility ideograph */
    CLEAN_NFC("\u2126 ohm", "\u03a9 ohm");

    text_normalization_t form = TEXT_NORMALIZATION_NFC;
    CHECK_INT_EQ(text_normalization_from_name("nfkc", &form), 0);
    CHECK_INT_EQ(form, TEXT_NORMALIZATION_NFKC);
    CHECK_INT_EQ(text_normalization_from_name("nfd", &form), -1);
}

static char *key_of(const char *text)
{
    char *out = NULL;
    size_t length = 0;
    if (text_dedup_key(text, strlen(text), &out, &length) != 0)
        return NULL;
    return out;
}

static void test_dedup_key(void)
{
    char *key = key_of("  Hello,\n\n  World\xC2\xA0!  ");
    CHECK_STR_EQ(key, "hello, world !");
    free(key);
    key = key_of("Caf\xC3\xA9");
    char *decomposed = key_of("CAFE\xCC\x81");
    CHECK_STR_EQ(key, decomposed);
    free(key);
    free(decomposed);
    key = key_of("\xE4\xB8\xAD\xE6\x96\x87\xE3\x80\x80\xE6\xB5\x8B\xE8\xAF\x95");
    CHECK_STR_EQ(key, "\xE4\xB8\xAD\xE6\x96\x87 \xE6\xB5\x8B\xE8\xAF\x95");
    free(key);
    key = key_of(" \n ");
    CHECK_STR_EQ(key, "");
    free(key);
}

static void test_counts(void)
{
    CHECK_INT_EQ(text_count_chars("abc", 3), 3);
    /* "中文测试" is 4 characters in 12 bytes. */
    const char *chinese = "\xE4\xB8\xAD\xE6\x96\x87\xE6\xB5\x8B\xE8\xAF\x95";
    CHECK_INT_EQ(text_count_chars(chinese, strlen(chinese)), 4);
    CHECK_INT_EQ(text_count_words(chinese, strlen(chinese)), 4);

    const char *english = "  the quick\tbrown\nfox  ";
    CHECK_INT_EQ(text_count_words(english, strlen(english)), 4);
    CHECK_INT_EQ(text_count_words("", 0), 0);

    /* "用 Python 写代码。" : 1 + 1 + 3 = 5 words; the full stop separates. */
    const char *mixed = "\xE7\x94\xA8 Python \xE5\x86\x99\xE4\xBB\xA3\xE7\xA0\x81\xE3\x80\x82";
    CHECK_INT_EQ(text_count_words(mixed, strlen(mixed)), 5);
    /* "abc，def" : the full-width comma separates two words. */
    const char *comma = "abc\xEF\xBC\x8C" "def";
    CHECK_INT_EQ(text_count_words(comma, strlen(comma)), 2);
    /* Full-width letters form one word like ASCII letters. */
    const char *wide = "\xEF\xBC\xA1\xEF\xBC\xA2";
    CHECK_INT_EQ(text_count_words(wide, strlen(wide)), 1);
    /* Hangul is spaced like English: two words. */
    const char *korean = "\xED\x95\x9C\xEA\xB5\xAD \xEB\xA7\x90";
    CHECK_INT_EQ(text_count_words(korean, strlen(korean)), 2);

    CHECK(text_is_cjk(0x4E2D));
    CHECK(text_is_cjk(0x3042));
    CHECK(text_is_cjk(0x20000));
    CHECK(!text_is_cjk('a'));
    CHECK(!text_is_cjk(0xD55C));
    CHECK(!text_is_cjk(0x3002));
}

/* Returns the repaired text, or a copy of the input when nothing was repaired. */
static char *repair(const char *text, size_t *repaired)
{
    char *out = NULL;
    size_t length = 0;
    if (text_repair_mojibake(text, strlen(text), &out, &length, repaired) != 0)
        return NULL;
    return out ? out : strdup(text);
}

static void check_repair(const char *input, const char *expected, size_t expected_count,
                         int line)
{
    size_t count = 0;
    char *out = repair(input, &count);
    if (!out || strcmp(out, expected) != 0 || count != expected_count)
        fprintf(stderr, "mojibake case at line %d\n", line);
    CHECK_STR_EQ(out, expected);
    CHECK_INT_EQ(count, expected_count);
    free(out);
}

#define REPAIR(in, want, count) check_repair((in), (want), (count), __LINE__)

static void test_mojibake(void)
{
    /* UTF-8 read as windows-1252: two-byte, three-byte and four-byte characters. */
    REPAIR("caf\u00c3\u00a9 cr\u00c3\u00a8me", "caf\u00e9 cr\u00e8me", 2);
    REPAIR("it\u00e2\u20ac\u2122s", "it\u2019s", 1);
    REPAIR("\u00e2\u20ac\u0153quoted\u00e2\u20ac\xc2\x9d", "\u201cquoted\u201d", 2);
    REPAIR("\u00e4\u00b8\u00ad\u00e6\u2013\u2021", "\u4e2d\u6587", 2);
    REPAIR("\u00f0\u0178\u02dc\u20ac", "\U0001f600", 1);
    /* Read as Latin-1: the C1 control U+0081 stands for byte 0x81. */
    REPAIR("\u00c3\xc2\x81gua", "\u00c1gua", 1);
    /* Correct text is left alone. */
    REPAIR("caf\u00e9, na\u00efve, \u00c0 la fa\u00e7on, \u00a9 2024", "caf\u00e9, na\u00efve, "
           "\u00c0 la fa\u00e7on, \u00a9 2024", 0);
    REPAIR("S\u00c3O PAULO", "S\u00c3O PAULO", 0);
    REPAIR("\u4e2d\u6587\u6570\u636e", "\u4e2d\u6587\u6570\u636e", 0);
    REPAIR("plain ASCII", "plain ASCII", 0);
    REPAIR("\u00e9\u2026 trailing", "\u00e9\u2026 trailing", 0);
    /* Double encoding takes a second call. */
    size_t count = 0;
    char *once = repair("caf\u00c3\u0192\u00c2\u00a9", &count);
    CHECK_INT_EQ(count, 2);
    char *twice = repair(once, &count);
    CHECK_STR_EQ(twice, "caf\u00e9");
    free(once);
    free(twice);
}

int main(void)
{
    test_line_rules();
    test_control_characters();
    test_spaces();
    test_normalization_forms();
    test_dedup_key();
    test_counts();
    test_mojibake();
    return CHECK_DONE();
}

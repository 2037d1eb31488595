/* Unit tests for pattern_set: literal sets over Hyperscan, word boundaries, CJK patterns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pattern_set.h"

static long count(const pattern_set_t *set, pattern_scratch_t *scratch, const char *text)
{
    return pattern_set_count(set, scratch, text, strlen(text), 0, NULL);
}

static void test_whole_words(void)
{
    const char *words[] = {"bad", "worse thing", "脏话"};
    char error[256];
    pattern_set_t *set = pattern_set_compile(words, 3, PATTERN_SET_CASELESS |
                                             PATTERN_SET_WHOLE_WORDS, error, sizeof error);
    CHECK(set != NULL);
    if (!set)
        return;
    pattern_scratch_t *scratch = NULL;
    CHECK_INT_EQ(pattern_scratch_reserve(&scratch, set), 0);
    CHECK_INT_EQ(count(set, scratch, "a bad day"), 1);
    CHECK_INT_EQ(count(set, scratch, "BAD, Bad and bad."), 3);
    CHECK_INT_EQ(count(set, scratch, "badge and abad and bad_x"), 0);
    CHECK_INT_EQ(count(set, scratch, "a worse thing happened"), 1);
    CHECK_INT_EQ(count(set, scratch, "a worse things"), 0);
    CHECK_INT_EQ(count(set, scratch, "café bad"), 1);
    CHECK_INT_EQ(count(set, scratch, "cafébad"), 0);
    /* CJK patterns need no boundary, because Chinese has no spaces. */
    CHECK_INT_EQ(count(set, scratch, "这是脏话吗"), 1);
    CHECK_INT_EQ(count(set, scratch, "nothing here"), 0);
    long first = 0;
    CHECK_INT_EQ(pattern_set_count(set, scratch, "x worse thing bad bad", 21, 2, &first), 2);
    CHECK_INT_EQ(first, 1);
    CHECK_STR_EQ(pattern_set_pattern(set, 2), "脏话");
    pattern_scratch_free(scratch);
    pattern_set_free(set);
}

static void test_substrings(void)
{
    const char *words[] = {"porn", "casino"};
    char error[256];
    pattern_set_t *set = pattern_set_compile(words, 2, PATTERN_SET_CASELESS, error, sizeof error);
    CHECK(set != NULL);
    pattern_scratch_t *scratch = NULL;
    CHECK_INT_EQ(pattern_scratch_reserve(&scratch, set), 0);
    CHECK_INT_EQ(count(set, scratch, "example.com/bestcasinos"), 1);
    CHECK_INT_EQ(count(set, scratch, "example.com/about"), 0);
    pattern_scratch_free(scratch);
    pattern_set_free(set);
}

static void test_empty_and_invalid(void)
{
    char error[256] = "";
    pattern_set_t *empty = pattern_set_compile(NULL, 0, 0, error, sizeof error);
    CHECK(empty != NULL);
    pattern_scratch_t *scratch = NULL;
    CHECK_INT_EQ(pattern_scratch_reserve(&scratch, empty), 0);
    CHECK_INT_EQ(count(empty, scratch, "anything"), 0);
    pattern_set_free(empty);
    pattern_scratch_free(scratch);

    const char *blank[] = {"ok", ""};
    CHECK(pattern_set_compile(blank, 2, 0, error, sizeof error) == NULL);
    CHECK(strstr(error, "empty") != NULL);
}

static void test_load_file(void)
{
    char path[] = "/tmp/test_pattern_set.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *file = fdopen(fd, "w");
    fputs("# comment\r\nfirst\r\n\nsecond word\n", file);
    fclose(file);
    char error[256];
    pattern_set_t *set = pattern_set_load_file(path, PATTERN_SET_WHOLE_WORDS, error, sizeof error);
    CHECK(set != NULL);
    if (set) {
        CHECK_INT_EQ(pattern_set_size(set), 2);
        CHECK_STR_EQ(pattern_set_pattern(set, 0), "first");
        CHECK_STR_EQ(pattern_set_pattern(set, 1), "second word");
    }
    pattern_set_free(set);
    remove(path);
    CHECK(pattern_set_load_file("/nonexistent/list.txt", 0, error, sizeof error) == NULL);
    CHECK(strstr(error, "/nonexistent/list.txt") != NULL);
}

int main(void)
{
    test_whole_words();
    test_substrings();
    test_empty_and_invalid();
    test_load_file();
    return CHECK_DONE();
}

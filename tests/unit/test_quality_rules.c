/* Unit tests for quality_rules: text views, Gopher, FineWeb and C4 scores, and CJK text. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quality_rules.h"

/* A Chinese paragraph written for this test: how a package manager works. */
static const char chinese[] =
    "软件包管理器是发行版的核心工具。它从软件源下载软件包，检查签名，并按照依赖关系安装所需的库。\n"
    "升级系统时，管理器会比较已安装的版本和软件源中的版本，只下载发生变化的部分。\n"
    "如果两个软件包提供同一个文件，管理器会拒绝安装，并提示用户先解决冲突。\n"
    "配置文件被修改过的时候，升级过程会询问用户是保留本地版本还是使用新版本。";

static void build(text_view_t *view, const char *text)
{
    CHECK_INT_EQ(text_view_build(view, text, strlen(text)), 0);
}

static void test_view(void)
{
    text_view_t view = {0};
    build(&view, "Hello, world!\n\nsecond  paragraph\nline 中文");
    CHECK_INT_EQ(view.word_count, 7);     /* Hello, world! second paragraph line 中 文 */
    CHECK_INT_EQ(view.line_count, 4);
    CHECK_INT_EQ(view.paragraph_count, 2);
    CHECK_INT_EQ(view.cjk_words, 2);
    CHECK_INT_EQ(view.chars, 40);
    CHECK(!text_view_is_cjk(&view));
    build(&view, chinese);
    CHECK(text_view_is_cjk(&view));
    CHECK_INT_EQ(view.line_count, 4);
    text_view_free(&view);
}

static void test_gopher_quality(void)
{
    text_view_t view = {0};
    build(&view, "The cat sat on the mat with a hat.\n- one item\n- two items...\n#tag #tag");
    gopher_quality_scores_t s;
    gopher_quality_scores(&view, "the,be,to,of,and,that,have,with", &s);
    CHECK_INT_EQ(s.words, 15);              /* the two "-" bullets are symbols, not words */
    CHECK_NEAR(s.hash_ratio, 2.0 / 17.0, 1e-9);
    CHECK_NEAR(s.ellipsis_ratio, 1.0 / 17.0, 1e-9);
    CHECK_NEAR(s.bullet_line_fraction, 2.0 / 4.0, 1e-9);
    CHECK_NEAR(s.ellipsis_line_fraction, 1.0 / 4.0, 1e-9);
    CHECK_INT_EQ(s.stop_words, 2);          /* the, with */
    CHECK_NEAR(s.alpha_word_fraction, 15.0 / 17.0, 1e-9);

    build(&view, chinese);
    gopher_quality_scores(&view, "the,be,to,of,and,that,have,with", &s);
    CHECK(s.words > 100);
    CHECK(s.mean_word_length == 0.0);      /* no space-separated words */
    CHECK_NEAR(s.alpha_word_fraction, 1.0, 1e-9);
    text_view_free(&view);
}

static void test_gopher_repetition(void)
{
    text_view_t view = {0};
    build(&view, "a b c\na b c\nd e f");
    gopher_repetition_scores_t s;
    CHECK_INT_EQ(gopher_repetition_scores(&view, &s), 0);
    CHECK_NEAR(s.duplicate_line_fraction, 1.0 / 3.0, 1e-9);
    CHECK_NEAR(s.duplicate_line_char_fraction, 5.0 / 17.0, 1e-9);
    CHECK_NEAR(s.duplicate_paragraph_fraction, 0.0, 1e-9);
    CHECK_NEAR(s.top_ngram_char_fraction[0], 6.0 / 17.0, 1e-9);
    CHECK_NEAR(s.duplicate_ngram_char_fraction[0], 0.0, 1e-9);

    /* Ten words repeated three times: the second and third copies are duplicated 5-grams. */
    build(&view, "one two three four five six seven eight nine ten "
                 "one two three four five six seven eight nine ten "
                 "one two three four five six seven eight nine ten");
    CHECK_INT_EQ(gopher_repetition_scores(&view, &s), 0);
    CHECK(s.duplicate_ngram_char_fraction[0] > 0.5);
    CHECK(s.duplicate_ngram_char_fraction[5] > 0.5);

    build(&view, chinese);
    CHECK_INT_EQ(gopher_repetition_scores(&view, &s), 0);
    CHECK(s.top_ngram_char_fraction[0] < 0.20);
    CHECK(s.duplicate_ngram_char_fraction[0] < 0.15);
    text_view_free(&view);
}

static void test_fineweb(void)
{
    text_view_t view = {0};
    fineweb_scores_t s;
    build(&view, "A full sentence here.\nshort\nshort\n\nAnother sentence that ends well!");
    CHECK_INT_EQ(fineweb_scores(&view, 30, &s), 0);
    CHECK_NEAR(s.line_punct_ratio, 2.0 / 4.0, 1e-9);
    CHECK_NEAR(s.short_line_ratio, 3.0 / 4.0, 1e-9);
    CHECK_NEAR(s.char_dup_ratio, 5.0 / 63.0, 1e-9);
    CHECK_NEAR(s.newline_ratio, 4.0 / 11.0, 1e-9);

    build(&view, chinese);
    CHECK_INT_EQ(fineweb_scores(&view, 30, &s), 0);
    CHECK_NEAR(s.line_punct_ratio, 1.0, 1e-9);
    CHECK_NEAR(s.short_line_ratio, 0.0, 1e-9);
    CHECK(s.newline_ratio < 0.05);
    text_view_free(&view);
}

static c4_settings_t c4_defaults(void)
{
    return (c4_settings_t){true, 3, 1000, true, true, true, true, true, 5, false};
}

static void test_c4(void)
{
    c4_settings_t settings = c4_defaults();
    const char *text = "This line is fine. It has two sentences.\n"
                       "no punctuation here\n"
                       "Please enable JavaScript to view this page.\n"
                       "Read our privacy policy for details.\n"
                       "Too short.\n"
                       "A citation follows here.[1] And another one[edit] ends here.\n"
                       "The last line makes the count reach five sentences.";
    char *out = NULL;
    size_t length = 0;
    c4_result_t result;
    CHECK_INT_EQ(c4_apply(text, strlen(text), &settings, &out, &length, &result), 0);
    CHECK_INT_EQ(result.lines_in, 7);
    CHECK_INT_EQ(result.lines_no_terminal_punct, 1);
    CHECK_INT_EQ(result.lines_javascript, 1);
    CHECK_INT_EQ(result.lines_policy, 1);
    CHECK_INT_EQ(result.lines_too_few_words, 1);
    CHECK_INT_EQ(result.sentences, 5);
    CHECK(result.drop_reason == NULL);
    CHECK_STR_EQ(out, "This line is fine. It has two sentences.\n"
                      "A citation follows here. And another one ends here.\n"
                      "The last line makes the count reach five sentences.");
    free(out);

    const char *code = "Call it like this. Then it works.\nint main() { return 0; }.";
    settings.min_sentences = 0;
    CHECK_INT_EQ(c4_apply(code, strlen(code), &settings, &out, &length, &result), 0);
    CHECK_STR_EQ(result.drop_reason, "c4_curly_brace");
    free(out);

    settings = c4_defaults();
    CHECK_INT_EQ(c4_apply(chinese, strlen(chinese), &settings, &out, &length, &result), 0);
    CHECK(result.drop_reason == NULL);
    CHECK_INT_EQ(result.sentences, 5);
    CHECK_STR_EQ(out, chinese);
    free(out);
}

static void test_terminal_punctuation(void)
{
    CHECK(quality_ends_in_terminal_punctuation("done.", 5));
    CHECK(quality_ends_in_terminal_punctuation("完成。 ", strlen("完成。 ")));
    CHECK(quality_ends_in_terminal_punctuation("“好”", strlen("“好”")));
    CHECK(!quality_ends_in_terminal_punctuation("no", 2));
    CHECK(!quality_ends_in_terminal_punctuation("", 0));
}

int main(void)
{
    test_view();
    test_gopher_quality();
    test_gopher_repetition();
    test_fineweb();
    test_c4();
    test_terminal_punctuation();
    return CHECK_DONE();
}

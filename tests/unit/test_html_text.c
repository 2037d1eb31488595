/*
 * Unit tests for HTML main-text extraction: invisible elements, boilerplate,
 * link density, block boundaries, whitespace, <pre>, title and language.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "html_text.h"

/* Extracts with default options; returns the text (caller frees the result). */
static const char *extract(const char *html, html_text_t *result)
{
    int status = html_text_extract(html, strlen(html), NULL, result);
    CHECK_INT_EQ(status, 0);
    return result->text ? result->text : "(null)";
}

static void test_invisible_elements(void)
{
    html_text_t result;
    extract("<html><head><title>T</title><style>p{color:red}</style>"
            "<script>var hidden = 1;</script></head><body>"
            "<p>visible<script>document.write('no')</script> text</p>"
            "<noscript>enable scripts</noscript><template><p>template</p></template>"
            "<!-- a comment --><svg><text>vector</text></svg>"
            "<select><option>choice</option></select></body></html>",
            &result);
    CHECK_STR_EQ(result.text, "visible text");
    html_text_free(&result);
}

static void test_boilerplate_dropped(void)
{
    html_text_t result;
    extract("<body><nav><a href=/>Home</a> <a href=/a>About</a></nav>"
            "<header><p>Site banner words</p></header>"
            "<article><h1>Heading</h1><p>The article body is the longest text on this "
            "page, so it is what the extractor must keep.</p></article>"
            "<aside><p>Sidebar note</p></aside>"
            "<div class=\"cookie-banner\">We use cookies to improve things.</div>"
            "<div id=\"main-menu\"><span>Menu entry</span></div>"
            "<div role=\"navigation\">Role navigation</div>"
            "<div class=\"navheader\">Previous Next</div>"
            "<div hidden>Hidden text</div><div style=\"display: none\">Invisible</div>"
            "<footer><p>Copyright notice</p></footer></body>",
            &result);
    CHECK_STR_EQ(result.text,
                 "Heading\nThe article body is the longest text on this page, so it is what "
                 "the extractor must keep.");
    html_text_free(&result);
}

/* An element named like furniture that contains most of the page's prose stays. */
static void test_dominant_container_kept(void)
{
    html_text_t result;
    extract("<body><form id=aspnetForm><div class=\"has-sidebar\"><p>Whole page content "
            "inside a form, which old ASP.NET sites do.</p></div></form>"
            "<div class=sidebar>Small sidebar</div></body>",
            &result);
    CHECK_STR_EQ(result.text, "Whole page content inside a form, which old ASP.NET sites do.");
    html_text_free(&result);

    extract("<body><header class=hero><h1>Title</h1><p>The main text of this page lives "
            "in a header element.</p></header><footer>Short footer</footer></body>",
            &result);
    CHECK_STR_EQ(result.text, "Title\nThe main text of this page lives in a header element.");
    html_text_free(&result);
}

static void test_link_density(void)
{
    html_text_t result;
    extract("<body><p>A paragraph of real prose that mentions one <a href=x>link</a> only, "
            "and it stays.</p>"
            "<ul><li><a href=1>First link</a></li><li><a href=2>Second link</a></li></ul>"
            "<div><a href=3>Related story one</a> <a href=4>Related story two</a> more</div>"
            "<p><a href=5>A paragraph that is a single link</a></p></body>",
            &result);
    CHECK_STR_EQ(result.text,
                 "A paragraph of real prose that mentions one link only, and it stays.\n"
                 "A paragraph that is a single link");
    html_text_free(&result);

    /* With the rule disabled the link list stays. */
    html_text_options_t options;
    html_text_options_default(&options);
    options.max_link_density = 1.0;
    const char *html = "<body><p>Some prose here to keep.</p><ul><li><a href=1>Link</a></li>"
                       "</ul></body>";
    CHECK_INT_EQ(html_text_extract(html, strlen(html), &options, &result), 0);
    CHECK_STR_EQ(result.text, "Some prose here to keep.\nLink");
    html_text_free(&result);
}

static void test_block_boundaries(void)
{
    html_text_t result;
    extract("<body><h2>Title</h2><p>First</p><p>Second<br>line</p>"
            "<ul><li>one</li><li>two</li></ul>"
            "<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>"
            "<div>x</div><div>y<div>z</div></div>"
            "<p>in<b>line</b> <i>tags</i> keep<span> spacing</span></p></body>",
            &result);
    CHECK_STR_EQ(result.text,
                 "Title\nFirst\nSecond\nline\none\ntwo\na b\nc d\nx\ny\nz\n"
                 "inline tags keep spacing");
    html_text_free(&result);
}

static void test_whitespace_and_entities(void)
{
    html_text_t result;
    extract("<body><p>  many \n\t spaces&nbsp;&nbsp;and&amp;entities &lt;tag&gt; "
            "&#20013;&#25991;  </p>\n\n<p>\n</p><p>last</p></body>",
            &result);
    CHECK_STR_EQ(result.text, "many spaces and&entities <tag> 中文\nlast");
    html_text_free(&result);
}

/* Reader comments, share widgets and the site header go; an article's own
 * <header> with its title stays. */
static void test_comments_and_headers(void)
{
    html_text_t result;
    extract("<body><div id=\"header\"><span>Site name</span></div>"
            "<article><header class=\"entry-header\"><h1>Post title</h1></header>"
            "<p>The post body is the longest text on the page and must be kept whole.</p>"
            "<div class=\"share-buttons\"><span>Tweet</span></div></article>"
            "<section id=\"comments\" class=\"comments-area\"><h3>2 comments</h3>"
            "<div class=\"comment\"><p>Nice post!</p></div></section>"
            "<div id=\"disqus_thread\"><p>Loading comments</p></div>"
            "<form id=\"respond\"><p>Leave a reply</p></form></body>",
            &result);
    CHECK_STR_EQ(result.text,
                 "Post title\nThe post body is the longest text on the page and must be "
                 "kept whole.");
    html_text_free(&result);

    /* Forum posts marked "comment" one by one are the page's content. */
    extract("<body><div class=\"comment\"><p>First post of the thread.</p></div>"
            "<div class=\"comment\"><p>Second post answers it.</p></div>"
            "<div class=\"comment\"><p>Third post closes it.</p></div></body>",
            &result);
    CHECK_STR_EQ(result.text,
                 "First post of the thread.\nSecond post answers it.\nThird post closes it.");
    html_text_free(&result);
}

/* Unknown and custom elements are inline: their text keeps the spacing of the
 * source, and block boundaries around them still end lines. */
static void test_unknown_inline_tags(void)
{
    html_text_t result;
    extract("<body><p>un<x-word>known</x-word> <blink>tags</blink><foo> stay</foo> "
            "inline</p><div>block</div><my-card>custom</my-card><div>next</div>"
            "<p>a<wbr>b <abbr>c</abbr>d</p></body>",
            &result);
    CHECK_STR_EQ(result.text, "unknown tags stay inline\nblock\ncustom\nnext\nab cd");
    html_text_free(&result);
}

static void test_more_entities(void)
{
    html_text_t result;
    /* "&notit;" reads as "&not" + "it;" in text, as HTML5 specifies and browsers do. */
    extract("<body><p>&hellip; &mdash; &#x4e2d;&#x6587; &copy 2024 &euro;5 &zzz; &notit; "
            "&quot;q&quot; &#0; &#xD800;</p></body>",
            &result);
    CHECK_STR_EQ(result.text,
                 "\xe2\x80\xa6 \xe2\x80\x94 中文 \xc2\xa9 2024 \xe2\x82\xac" "5 &zzz; \xc2\xacit; "
                 "\"q\" \xef\xbf\xbd \xef\xbf\xbd");
    html_text_free(&result);
}

/* Script and style contents are removed before parsing; the scanner must not
 * be fooled by comments, attribute values, <title> text or escaped scripts. */
static void test_raw_text_elements(void)
{
    html_text_t result;
    extract("<html><head><title>Using <script> tags</title>"
            "<style>p::after { content: \"</p>\" }</style></head><body>"
            "<!-- <script> --><p>after a commented tag</p>"
            "<p title=\"<script>\">attribute value</p>"
            "<script type=\"text/javascript\">var s = '<p>not text</p>';</script>"
            "<SCRIPT>if (a < b) x = '</scr' + 'ipt>';</SCRIPT >"
            "<script><!-- document.write('<script></script>'); --></script>"
            "<p>end</p><script>never closed <p>lost</p>",
            &result);
    CHECK_STR_EQ(result.text, "after a commented tag\nattribute value\nend");
    CHECK_STR_EQ(result.title, "Using <script> tags");
    html_text_free(&result);

    extract("<body><textarea><script>kept as text</script></textarea>"
            "<p>visible</p></body>",
            &result);
    CHECK_STR_EQ(result.text, "visible");
    html_text_free(&result);
}

static void test_pre_keeps_whitespace(void)
{
    html_text_t result;
    extract("<body><p>Code:</p><pre>int main(void)\n{\n    return  0;\n}</pre>"
            "<p>after</p></body>",
            &result);
    CHECK_STR_EQ(result.text, "Code:\nint main(void)\n{\n    return  0;\n}\nafter");
    html_text_free(&result);
}

/* What the scanner removes before parsing never changes the text. */
static void test_removed_before_parsing(void)
{
    html_text_t result;
    /* HTML inside <svg> ends the SVG content, so its text stays visible. */
    extract("<body><svg><path d=\"M0 0\"/><p>breaks out</p></svg>"
            "<svg viewBox=\"0 0 1 1\"><text>vector</text><path/></svg><p>after</p></body>",
            &result);
    CHECK_STR_EQ(result.text, "breaks out\nafter");
    html_text_free(&result);

    /* Kept attributes still drop furniture and hidden elements; an href
     * without its value still marks a link. */
    extract("<body><div data-x=\"1\" class=\"site-nav\" onclick=\"go()\">menu</div>"
            "<p style=\"display: none\" data-a='x'>hidden</p>"
            "<p><img src=\"a.png\" alt=\"picture\">Text<meta content=\"x\"> here</p>"
            "<div><a href=\"/one\">one</a> <a href=/two>two</a></div></body>",
            &result);
    CHECK_STR_EQ(result.text, "Text here");
    html_text_free(&result);

    /* Only the first of repeated class attributes counts, as in HTML5. */
    extract("<body><div class=\"story\" class=\"sidebar\" STYLE=\"color: red\" "
            "style=\"display:none\">first wins</div><div CLASS=Cookie-Banner>gone</div>"
            "<div class=\"a&#32;navbar\">also gone</div></body>",
            &result);
    CHECK_STR_EQ(result.text, "first wins");
    html_text_free(&result);

    /* Whitespace runs collapse outside <pre>, <xmp> and <plaintext> only. */
    extract("<body><p>a  \n\n  b</p><xmp>x  <b>  y</xmp><pre>p\n\n  q</pre>"
            "<plaintext>one  two</body>",
            &result);
    CHECK_STR_EQ(result.text, "a b\nx  <b>  y\np\n\n  q\none  two</body>");
    html_text_free(&result);

    /* Comments the HTML5 tokenizer ends early are left to gumbo. */
    extract("<body><p>one<!-->two</p><p>three<!--->four</p><p>five<!-- x --!>six</p></body>",
            &result);
    CHECK_STR_EQ(result.text, "onetwo\nthreefour\nfivesix");
    html_text_free(&result);

    /* Attributes written without a space after a quoted value stay apart,
     * and the copy handed to gumbo never outgrows the page (the sanitizer
     * build catches a write past it). */
    extract("<body><p data-a=\"1\"data-b=\"2\"data-c='3'dir=ltr>kept</p>"
            "<div data-x=\"1\"class=\"sidebar\"id=\"y\">side</div>"
            "<p a=\"\"b=\"\"c=\"\"d=\"\"e=\"\"f=\"\"g=\"\"h=\"\">packed</p></body>",
            &result);
    CHECK_STR_EQ(result.text, "kept\npacked");
    html_text_free(&result);

    /* A tag cut by the end of the page is passed on as it is. */
    extract("<body><p>start</p><div class=\"a", &result);
    CHECK_STR_EQ(result.text, "start");
    html_text_free(&result);
}

static void test_title_and_lang(void)
{
    html_text_t result;
    extract("<!DOCTYPE html><html lang=\" zh-CN \"><head><title>\n  中文 标题\n</title></head>"
            "<body><p>正文内容。</p></body></html>",
            &result);
    CHECK_STR_EQ(result.title, "中文 标题");
    CHECK_STR_EQ(result.lang, "zh-CN");
    CHECK_STR_EQ(result.text, "正文内容。");
    CHECK_INT_EQ(result.length, strlen("正文内容。"));
    html_text_free(&result);

    extract("<p>no head</p>", &result);
    CHECK(result.title == NULL);
    CHECK(result.lang == NULL);
    CHECK_STR_EQ(result.text, "no head");
    html_text_free(&result);
}

static void test_malformed_input(void)
{
    html_text_t result;
    extract("<div><p>unclosed <b>bold <i>both</div> tail", &result);
    CHECK_STR_EQ(result.text, "unclosed bold both\ntail");
    html_text_free(&result);

    extract("", &result);
    CHECK_STR_EQ(result.text, "");
    CHECK_INT_EQ(result.length, 0);
    html_text_free(&result);

    /* Deep nesting beyond the depth limit: no crash, outer text kept. */
    size_t depth = 3000;
    char *deep = malloc(depth * 5 + 64);
    strcpy(deep, "<p>top</p>");
    for (size_t i = 0; i < depth; i++)
        strcat(deep, "<div>");
    strcat(deep, "bottom");
    extract(deep, &result);
    CHECK(strncmp(result.text, "top", 3) == 0);
    html_text_free(&result);
    free(deep);
}

int main(void)
{
    test_invisible_elements();
    test_boilerplate_dropped();
    test_dominant_container_kept();
    test_link_density();
    test_block_boundaries();
    test_whitespace_and_entities();
    test_pre_keeps_whitespace();
    test_comments_and_headers();
    test_unknown_inline_tags();
    test_more_entities();
    test_raw_text_elements();
    test_title_and_lang();
    test_malformed_input();
    test_removed_before_parsing();
    return CHECK_DONE();
}

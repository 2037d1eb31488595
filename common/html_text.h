/*
 * Main-text extraction from HTML, with the gumbo HTML5 parser.
 *
 * Gumbo builds the document tree as a browser would (entities decoded,
 * unclosed tags closed), so the extractor only walks it. It never emits the
 * text of script, style, noscript, template, head, form controls or embedded
 * objects, nor comments, nor hidden elements. It drops boilerplate: nav,
 * header, footer, aside, menu and form elements, and elements whose ARIA role
 * or whose class or id words name navigation, menus, sidebars, breadcrumbs,
 * sharing widgets, ads, cookie banners or reader comment sections. A <header>
 * inside an <article> or <main> is the article's own and stays. It also drops
 * container blocks (not paragraphs, headings or table rows) whose text is
 * mostly link text. An element that contains at least half of the page's text
 * outside links is exempt from these rules, because some sites put the whole
 * article in a <header> or <form>.
 *
 * Block elements (paragraphs, headings, list items, table rows, divs, ...) and
 * <br> start new lines, so words never run together across block boundaries;
 * inline elements keep the spacing of the source. Runs of whitespace collapse
 * to one space, except inside <pre>, whose text is kept as written.
 */
#ifndef LMPIPE_HTML_TEXT_H
#define LMPIPE_HTML_TEXT_H

#include <stddef.h>

typedef struct {
    /* A block whose link text exceeds this fraction of its text is dropped;
     * 1 or more disables the rule. */
    double max_link_density;
} html_text_options_t;

/* Default options: max_link_density 0.5. */
void html_text_options_default(html_text_options_t *options);

typedef struct {
    char *text;         /* UTF-8, lines separated by '\n', no trailing newline */
    size_t length;      /* bytes of text */
    char *title;        /* <title> text with whitespace collapsed, or NULL */
    char *lang;         /* the <html lang> attribute, trimmed, or NULL */
} html_text_t;

/*
 * Extracts the main text of a UTF-8 HTML document of `length` bytes (invalid
 * UTF-8 becomes U+FFFD inside gumbo). `options` may be NULL for the defaults.
 * Fills `result`, which the caller frees with html_text_free. Returns 0, or -1
 * when memory runs out or gumbo fails; `result` is then empty.
 *
 * NOTE: elements nested deeper than 1000 levels are skipped to bound the
 * recursion; gumbo itself still builds and frees the whole tree.
 */
int html_text_extract(const char *html, size_t length, const html_text_options_t *options,
                      html_text_t *result);

void html_text_free(html_text_t *result);

#endif

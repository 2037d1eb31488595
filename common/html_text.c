/*
 * Main-text extraction from HTML with gumbo (see html_text.h).
 *
 * Two walks over the tree. The first counts, for every element in pre-order,
 * the visible text bytes and the bytes inside links below it, and the size of
 * its subtree. The second decides per element whether to drop it (tag, role,
 * class/id words, link density) and emits the text of what is kept. It steps
 * over a dropped subtree by its recorded size, so both walks stay aligned.
 */
#include "html_text.h"

#include <ctype.h>
#include <gumbo.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 1000

/* ------------------------------------------------------------------------ */
/* Arena for gumbo                                                           */

/*
 * Gumbo makes many small allocations per node and per token; about a quarter
 * of the parse time went to malloc and free. It parses into this arena
 * instead: allocation bumps a pointer, freeing does nothing, and the whole
 * arena is released after the page. Peak memory is what gumbo allocated in
 * total for the page, a small multiple of the page size.
 */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
} arena_chunk_t;

typedef struct {
    arena_chunk_t *chunks;  /* newest first */
    size_t next_size;       /* data bytes of the next chunk */
} arena_t;

static void *arena_allocate(void *userdata, size_t size)
{
    arena_t *arena = userdata;
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    arena_chunk_t *chunk = arena->chunks;
    if (!chunk || chunk->size - chunk->used < size) {
        size_t chunk_size = arena->next_size > size ? arena->next_size : size;
        chunk = malloc(sizeof *chunk + chunk_size);
        /* NOTE: gumbo does not check for NULL here, as with its default malloc,
         * so running out of memory inside the parser still crashes. */
        if (!chunk)
            return NULL;
        chunk->next = arena->chunks;
        chunk->size = chunk_size;
        chunk->used = 0;
        arena->chunks = chunk;
        if (arena->next_size < ((size_t)64 << 20))
            arena->next_size *= 2;
    }
    void *memory = (char *)chunk->data + chunk->used;
    chunk->used += size;
    return memory;
}

static void arena_deallocate(void *userdata, void *memory)
{
    (void)userdata;
    (void)memory;
}

static void arena_free(arena_t *arena)
{
    while (arena->chunks) {
        arena_chunk_t *next = arena->chunks->next;
        free(arena->chunks);
        arena->chunks = next;
    }
}

/*
 * Each thread keeps its largest chunk for the next page, because a fresh
 * chunk of a few hundred KiB comes from mmap and costs page faults on every
 * page (about 7% of the run time on real web pages). A chunk above
 * ARENA_KEEP_MAX is not kept, so the memory held between pages stays bounded.
 */
#define ARENA_KEEP_MAX ((size_t)16 << 20)

static pthread_key_t kept_chunk_key;
static pthread_once_t kept_chunk_once = PTHREAD_ONCE_INIT;

static void kept_chunk_create_key(void)
{
    pthread_key_create(&kept_chunk_key, free);
}

/* Starts an arena for a page of `length` bytes, reusing the thread's kept chunk. */
static void arena_begin(arena_t *arena, size_t length)
{
    pthread_once(&kept_chunk_once, kept_chunk_create_key);
    arena->chunks = NULL;
    arena->next_size = 4 * length + 65536;
    arena_chunk_t *kept = pthread_getspecific(kept_chunk_key);
    if (!kept)
        return;
    pthread_setspecific(kept_chunk_key, NULL);
    if (kept->size < arena->next_size / 2) {
        free(kept);
        return;
    }
    kept->used = 0;
    kept->next = NULL;
    arena->chunks = kept;
}

/* Releases the arena after a page, keeping its newest (largest) chunk. */
static void arena_end(arena_t *arena)
{
    arena_chunk_t *newest = arena->chunks;
    if (newest && newest->size <= ARENA_KEEP_MAX &&
        pthread_setspecific(kept_chunk_key, newest) == 0)
        arena->chunks = newest->next;
    arena_free(arena);
}

/* Per-element counts from the first walk, indexed in pre-order. */
typedef struct {
    size_t text_bytes;      /* non-whitespace bytes of visible text */
    size_t link_bytes;      /* the part of text_bytes inside <a href> */
    size_t subtree_size;    /* elements in the subtree, this one included */
} element_counts_t;

typedef struct {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;            /* an allocation failed; the result is discarded */
    bool pending_space;
    bool pending_newline;
    bool at_line_start;
} text_builder_t;

typedef struct {
    const html_text_options_t *options;
    element_counts_t *counts;
    size_t count_capacity;
    size_t element_count;
    size_t next_element;    /* pre-order index during the second walk */
    size_t page_prose_bytes;    /* text bytes of the whole page outside links */
    int article_depth;          /* open article or main elements around the current one */
    bool failed;
    text_builder_t out;
} extractor_t;

void html_text_options_default(html_text_options_t *options)
{
    options->max_link_density = 0.5;
}

/* ------------------------------------------------------------------------ */
/* Element classes                                                           */

/* Elements whose content is never visible text. */
static bool is_invisible_tag(GumboTag tag)
{
    switch (tag) {
    case GUMBO_TAG_HEAD: case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE: case GUMBO_TAG_SVG:
    case GUMBO_TAG_MATH: case GUMBO_TAG_IFRAME: case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED: case GUMBO_TAG_CANVAS: case GUMBO_TAG_VIDEO:
    case GUMBO_TAG_AUDIO: case GUMBO_TAG_MAP: case GUMBO_TAG_SELECT:
    case GUMBO_TAG_OPTION: case GUMBO_TAG_BUTTON: case GUMBO_TAG_INPUT:
    case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_DATALIST: case GUMBO_TAG_APPLET:
    case GUMBO_TAG_NOFRAMES: case GUMBO_TAG_NOEMBED: case GUMBO_TAG_FRAMESET:
        return true;
    default:
        return false;
    }
}

/* Page furniture by element type. */
static bool is_boilerplate_tag(GumboTag tag)
{
    switch (tag) {
    case GUMBO_TAG_NAV: case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_ASIDE: case GUMBO_TAG_MENU:
        return true;
    default:
        return false;
    }
}

/* Elements that start and end a line of output. */
static bool is_block_tag(GumboTag tag)
{
    switch (tag) {
    case GUMBO_TAG_ADDRESS: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_BODY: case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_CENTER: case GUMBO_TAG_DD: case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_DIR: case GUMBO_TAG_DIV: case GUMBO_TAG_DL: case GUMBO_TAG_DT:
    case GUMBO_TAG_FIELDSET: case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FOOTER: case GUMBO_TAG_FORM: case GUMBO_TAG_H1: case GUMBO_TAG_H2:
    case GUMBO_TAG_H3: case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6:
    case GUMBO_TAG_HEADER: case GUMBO_TAG_HGROUP: case GUMBO_TAG_HR: case GUMBO_TAG_HTML:
    case GUMBO_TAG_LEGEND: case GUMBO_TAG_LI: case GUMBO_TAG_LISTING: case GUMBO_TAG_MAIN:
    case GUMBO_TAG_MENU: case GUMBO_TAG_NAV: case GUMBO_TAG_OL: case GUMBO_TAG_P:
    case GUMBO_TAG_PLAINTEXT: case GUMBO_TAG_PRE: case GUMBO_TAG_SECTION:
    case GUMBO_TAG_SUMMARY: case GUMBO_TAG_TABLE: case GUMBO_TAG_TBODY:
    case GUMBO_TAG_TFOOT: case GUMBO_TAG_THEAD: case GUMBO_TAG_TR: case GUMBO_TAG_UL:
    case GUMBO_TAG_XMP: case GUMBO_TAG_FRAME:
        return true;
    default:
        return false;
    }
}

/* Prose blocks keep their links: a paragraph or heading full of links is still
 * prose, and the link-density rule is meant for lists and containers of links. */
static bool is_prose_block(GumboTag tag)
{
    switch (tag) {
    case GUMBO_TAG_P: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3:
    case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_PRE: case GUMBO_TAG_DD: case GUMBO_TAG_DT: case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_CAPTION:
        return true;
    default:
        return false;
    }
}

/* Rows and row groups of a data table often start with a linked name (a
 * registry, a product, a person); the link-density rule judges the whole
 * <table> instead, so a table is kept or dropped as one. */
static bool is_table_part(GumboTag tag)
{
    return tag == GUMBO_TAG_TR || tag == GUMBO_TAG_TBODY || tag == GUMBO_TAG_THEAD ||
           tag == GUMBO_TAG_TFOOT;
}

/* Blocks that hold a whole page or article are never dropped for link density. */
static bool is_page_container(GumboTag tag)
{
    return tag == GUMBO_TAG_HTML || tag == GUMBO_TAG_BODY || tag == GUMBO_TAG_MAIN ||
           tag == GUMBO_TAG_ARTICLE;
}

static bool is_preformatted(GumboTag tag)
{
    return tag == GUMBO_TAG_PRE || tag == GUMBO_TAG_LISTING || tag == GUMBO_TAG_XMP ||
           tag == GUMBO_TAG_PLAINTEXT || tag == GUMBO_TAG_TEXTAREA;
}

static const char *attribute(const GumboElement *element, const char *name)
{
    const GumboAttribute *found = gumbo_get_attribute(&element->attributes, name);
    return found ? found->value : NULL;
}

/* ARIA landmark roles of page furniture. */
static bool has_boilerplate_role(const GumboElement *element)
{
    static const char *const roles[] = {
        "navigation", "banner", "contentinfo", "complementary", "menu", "menubar",
        "search", "alertdialog", "dialog",
    };
    const char *role = attribute(element, "role");
    if (!role)
        return false;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcasecmp(role, roles[i]) == 0)
            return true;
    }
    return false;
}

static bool is_hidden(const GumboElement *element)
{
    if (attribute(element, "hidden"))
        return true;
    const char *aria_hidden = attribute(element, "aria-hidden");
    if (aria_hidden && strcasecmp(aria_hidden, "true") == 0)
        return true;
    const char *style = attribute(element, "style");
    if (!style)
        return false;
    char compact[128];
    size_t length = 0;
    for (const char *p = style; *p && length + 1 < sizeof compact; p++) {
        if (!isspace((unsigned char)*p))
            compact[length++] = (char)tolower((unsigned char)*p);
    }
    compact[length] = '\0';
    return strstr(compact, "display:none") || strstr(compact, "visibility:hidden");
}

/* Words that mark furniture when they appear anywhere inside a class or id token. */
static const char *const furniture_substrings[] = {
    "sidebar", "breadcrumb", "cookie", "navbar", "navigation", "menu", "consent",
    "advert", "newsletter", "skiplink", "pagination", "editsection", "disqus",
    "commentlist", "topbar",
};
/* Words that mark furniture only as a whole word of a token ("nav" in "main-nav").
 * "comments" and "respond" name reader comment sections and their forms (the
 * names WordPress and most blog themes use); a single "comment" is not on the
 * list, because forums mark each post that way. */
static const char *const furniture_words[] = {
    "nav", "ad", "ads", "gdpr", "footer", "masthead", "toolbar", "share", "sharing",
    "social", "sponsored", "promo", "popup", "modal", "related", "widget", "banner",
    "comments", "respond", "subscribe", "signup", "jump", "skip",
};
/* Whole tokens that name the site's header bar; "entry-header" or
 * "article-header" hold an article's title and are kept. */
static const char *const furniture_tokens[] = {"header", "site-header", "siteheader", "top-bar"};
/* A token starting with one of these words describes the page, not the element
 * ("has-sidebar" on a wrapper that contains the article). */
static const char *const negating_words[] = {"has", "no", "with", "without"};

static bool word_in(const char *word, size_t length, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(list[i]) == length && strncmp(word, list[i], length) == 0)
            return true;
    }
    return false;
}

/* Checks one class or id token (lowercased), split into words at non-alphanumerics. */
static bool token_names_furniture(const char *token, size_t length)
{
    size_t word_start = 0;
    bool first_word = true;
    for (size_t i = 0; i <= length; i++) {
        if (i < length && isalnum((unsigned char)token[i]))
            continue;
        size_t word_length = i - word_start;
        if (word_length > 0) {
            const char *word = token + word_start;
            size_t negating_count = sizeof negating_words / sizeof negating_words[0];
            if (first_word && word_in(word, word_length, negating_words, negating_count))
                return false;
            first_word = false;
            /* "nav" opens many furniture names: navbox, navheader, navlinks. */
            if (word_length >= 3 && strncmp(word, "nav", 3) == 0)
                return true;
            size_t word_count = sizeof furniture_words / sizeof furniture_words[0];
            if (word_in(word, word_length, furniture_words, word_count))
                return true;
        }
        word_start = i + 1;
    }
    /* Most tokens lack the first letter of most words, which is cheaper to
     * check than searching for each word. */
    uint32_t letters = 0;
    for (size_t i = 0; i < length; i++) {
        if (token[i] >= 'a' && token[i] <= 'z')
            letters |= 1u << (token[i] - 'a');
    }
    for (size_t i = 0; i < sizeof furniture_substrings / sizeof furniture_substrings[0]; i++) {
        const char *word = furniture_substrings[i];
        if ((letters & (1u << (word[0] - 'a'))) && memmem(token, length, word, strlen(word)))
            return true;
    }
    return false;
}

static bool token_is_site_header(const char *token, size_t length)
{
    return word_in(token, length, furniture_tokens,
                   sizeof furniture_tokens / sizeof furniture_tokens[0]);
}

static bool attribute_names_furniture(const char *value, bool in_article)
{
    if (!value)
        return false;
    char token[128];
    const char *p = value;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        size_t length = 0;
        while (*p && !isspace((unsigned char)*p)) {
            if (length + 1 < sizeof token)
                token[length++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (length > 0 && token_names_furniture(token, length))
            return true;
        if (length > 0 && !in_article && token_is_site_header(token, length))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* First walk: text and link counts per element                              */

static bool is_whitespace_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t visible_bytes(const char *text)
{
    size_t count = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (!is_whitespace_byte(*p))
            count++;
    }
    return count;
}

static bool is_element(const GumboNode *node)
{
    return node->type == GUMBO_NODE_ELEMENT || node->type == GUMBO_NODE_TEMPLATE;
}

/* Counts the subtree of `node` (an element) and returns its index. */
static size_t measure(extractor_t *extractor, const GumboNode *node, bool in_link, int depth)
{
    if (extractor->element_count == extractor->count_capacity) {
        size_t capacity = extractor->count_capacity ? extractor->count_capacity * 2 : 256;
        element_counts_t *grown = realloc(extractor->counts, capacity * sizeof *grown);
        if (!grown) {
            extractor->failed = true;
            return extractor->element_count - 1;
        }
        extractor->counts = grown;
        extractor->count_capacity = capacity;
    }
    size_t index = extractor->element_count++;
    element_counts_t counts = {0, 0, 1};
    const GumboElement *element = &node->v.element;

    bool skip_children = node->type == GUMBO_NODE_TEMPLATE || is_invisible_tag(element->tag) ||
                         depth >= MAX_DEPTH;
    if (!skip_children) {
        bool link = in_link || (element->tag == GUMBO_TAG_A && attribute(element, "href"));
        for (unsigned int i = 0; i < element->children.length && !extractor->failed; i++) {
            const GumboNode *child = element->children.data[i];
            if (is_element(child)) {
                size_t child_index = measure(extractor, child, link, depth + 1);
                if (extractor->failed)
                    break;
                const element_counts_t *child_counts = &extractor->counts[child_index];
                counts.text_bytes += child_counts->text_bytes;
                counts.link_bytes += child_counts->link_bytes;
                counts.subtree_size += child_counts->subtree_size;
            } else if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_CDATA) {
                size_t bytes = visible_bytes(child->v.text.text);
                counts.text_bytes += bytes;
                if (link)
                    counts.link_bytes += bytes;
            }
        }
    }
    if (!extractor->failed)
        extractor->counts[index] = counts;
    return index;
}

/* ------------------------------------------------------------------------ */
/* Text builder                                                              */

static void builder_reserve(text_builder_t *out, size_t extra)
{
    if (out->failed || out->length + extra + 1 <= out->capacity)
        return;
    size_t capacity = out->capacity ? out->capacity : 1024;
    while (capacity < out->length + extra + 1)
        capacity *= 2;
    char *grown = realloc(out->data, capacity);
    if (!grown) {
        out->failed = true;
        return;
    }
    out->data = grown;
    out->capacity = capacity;
}

static void builder_put(text_builder_t *out, const char *data, size_t length)
{
    builder_reserve(out, length);
    if (out->failed)
        return;
    memcpy(out->data + out->length, data, length);
    out->length += length;
}

static void builder_trim_trailing_spaces(text_builder_t *out)
{
    while (out->length > 0 && (out->data[out->length - 1] == ' ' ||
                               out->data[out->length - 1] == '\t'))
        out->length--;
}

/* Writes the pending line break or space before the next visible byte. */
static void builder_flush_pending(text_builder_t *out)
{
    if (out->pending_newline) {
        if (out->length > 0 && !out->at_line_start) {
            builder_trim_trailing_spaces(out);
            builder_put(out, "\n", 1);
        }
        out->at_line_start = true;
        out->pending_newline = false;
        out->pending_space = false;
    }
    if (out->pending_space && !out->at_line_start)
        builder_put(out, " ", 1);
    out->pending_space = false;
}

static void builder_line_break(text_builder_t *out)
{
    out->pending_newline = true;
    out->pending_space = false;
}

/* Appends text, collapsing whitespace runs (and no-break spaces) to one space. */
static void builder_text(text_builder_t *out, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        if (is_whitespace_byte(*p)) {
            out->pending_space = true;
            p++;
            continue;
        }
        if (p[0] == 0xC2 && p[1] == 0xA0) {
            out->pending_space = true;
            p += 2;
            continue;
        }
        const unsigned char *run = p;
        while (*p && !is_whitespace_byte(*p) && !(p[0] == 0xC2 && p[1] == 0xA0))
            p++;
        builder_flush_pending(out);
        builder_put(out, (const char *)run, (size_t)(p - run));
        out->at_line_start = false;
    }
}

/* Appends preformatted text as written; its newlines end lines. */
static void builder_preformatted(text_builder_t *out, const char *text)
{
    size_t length = strlen(text);
    if (length == 0)
        return;
    builder_flush_pending(out);
    builder_put(out, text, length);
    out->at_line_start = text[length - 1] == '\n';
}

/* ------------------------------------------------------------------------ */
/* Second walk: decide and emit                                              */

static bool should_drop(const extractor_t *extractor, const GumboElement *element,
                        const element_counts_t *counts)
{
    GumboTag tag = element->tag;
    if (is_hidden(element))
        return true;
    if (is_page_container(tag))
        return false;

    /* An element that contains at least half of the page's text outside links
     * is the page itself, whatever its tag or name. Sites put the article in
     * a <header> "hero" section, ASP.NET wraps whole pages in one <form>, and
     * MediaWiki's page container is mostly links. */
    size_t own_prose = counts->text_bytes - counts->link_bytes;
    if (own_prose > 0 && own_prose * 2 >= extractor->page_prose_bytes)
        return false;

    /* A <header> inside an article or main holds its title (HTML's "header of
     * the nearest sectioning content"), so only the page-level one goes. */
    bool in_article = extractor->article_depth > 0;
    if (tag == GUMBO_TAG_HEADER && in_article)
        return false;
    if (is_boilerplate_tag(tag) || has_boilerplate_role(element))
        return true;
    double density = counts->text_bytes
                         ? (double)counts->link_bytes / (double)counts->text_bytes : 0.0;
    double max_density = extractor->options->max_link_density;
    if (is_block_tag(tag) && !is_prose_block(tag) && !is_table_part(tag) &&
        max_density < 1.0 && density > max_density)
        return true;
    return tag == GUMBO_TAG_FORM ||
           attribute_names_furniture(attribute(element, "class"), in_article) ||
           attribute_names_furniture(attribute(element, "id"), in_article);
}

static void emit(extractor_t *extractor, const GumboNode *node, bool in_pre, int depth);

static void emit_children(extractor_t *extractor, const GumboElement *element, bool in_pre,
                          int depth)
{
    bool first_cell = true;
    for (unsigned int i = 0; i < element->children.length; i++) {
        const GumboNode *child = element->children.data[i];
        switch (child->type) {
        case GUMBO_NODE_ELEMENT:
        case GUMBO_NODE_TEMPLATE: {
            GumboTag tag = child->v.element.tag;
            if (tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH) {
                if (!first_cell)
                    extractor->out.pending_space = true;
                first_cell = false;
            }
            emit(extractor, child, in_pre, depth + 1);
            break;
        }
        case GUMBO_NODE_TEXT:
        case GUMBO_NODE_CDATA:
        case GUMBO_NODE_WHITESPACE:
            if (in_pre)
                builder_preformatted(&extractor->out, child->v.text.text);
            else
                builder_text(&extractor->out, child->v.text.text);
            break;
        default:
            break; /* comments and the document node carry no text */
        }
    }
}

static void emit(extractor_t *extractor, const GumboNode *node, bool in_pre, int depth)
{
    size_t index = extractor->next_element;
    const element_counts_t *counts = &extractor->counts[index];
    const GumboElement *element = &node->v.element;
    GumboTag tag = element->tag;

    bool skip = node->type == GUMBO_NODE_TEMPLATE || is_invisible_tag(tag) ||
                depth >= MAX_DEPTH || should_drop(extractor, element, counts);
    if (skip) {
        extractor->next_element += counts->subtree_size;
        if (is_block_tag(tag))
            builder_line_break(&extractor->out);
        return;
    }
    extractor->next_element++;

    if (tag == GUMBO_TAG_BR) {
        if (in_pre)
            builder_preformatted(&extractor->out, "\n");
        else
            builder_line_break(&extractor->out);
        return;
    }
    if (is_block_tag(tag))
        builder_line_break(&extractor->out);

    bool article = tag == GUMBO_TAG_ARTICLE || tag == GUMBO_TAG_MAIN;
    extractor->article_depth += article;
    emit_children(extractor, element, in_pre || is_preformatted(tag), depth);
    extractor->article_depth -= article;

    if (is_block_tag(tag))
        builder_line_break(&extractor->out);
}

/* ------------------------------------------------------------------------ */
/* Bytes removed before parsing                                              */

/*
 * Gumbo tokenizes every byte character by character, also bytes that never
 * become text. prepare_for_parse() copies the page without three kinds of them:
 *
 * - the content of <script> and <style>, a sixth of the bytes of web pages,
 *   and of <svg>, a tenth of what remains (the start and end tags stay);
 * - comments, and the void elements <meta>, <link>, <base>, <img>, <source>
 *   and <track>, which never hold text;
 * - repeated whitespace outside <pre>, <listing>, <plaintext> and <xmp>;
 * - attributes that neither the extractor nor the tree construction reads
 *   (src, srcset, data-*, on*, rel, ...), the value of href, whose presence
 *   alone matters, and class, id and style values that cannot drop or hide
 *   the element. These are about a third of the bytes of a typical page.
 *
 * A small scanner follows the HTML tokenizer far enough to avoid false
 * matches: quoted attribute values are skipped whole, the text of <title>,
 * <textarea> and <xmp> is copied as it is, a script containing "<!--" is kept
 * whole, because there "</script>" may not end it (the HTML5 "script data
 * escaped" states), an <svg> is kept whole when an HTML tag inside would end
 * the SVG content early (<p>, <div>, ...) or when it contains a comment, CDATA or
 * another <svg>, and a comment the scanner would end differently from the
 * HTML5 tokenizer ("<!-->", "--!>") is left to gumbo. A tag that is not
 * closed before the end of the page is copied unchanged.
 *
 * NOTE: the HTML5 "Noah's Ark" rule compares the attributes of formatting
 * elements, so on misnested markup with removed attributes gumbo may
 * reconstruct formatting elements differently; the text stays the same.
 */

static bool is_ascii_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* Finds "</name" followed by space, "/" or ">" at or after `from`, ignoring
 * case; returns its offset or `length`. */
static size_t find_end_tag(const char *html, size_t length, size_t from, const char *name)
{
    size_t name_length = strlen(name);
    while (from < length) {
        const char *open = memchr(html + from, '<', length - from);
        if (!open)
            return length;
        size_t at = (size_t)(open - html);
        size_t after = at + 2 + name_length;
        if (after < length && html[at + 1] == '/' &&
            strncasecmp(html + at + 2, name, name_length) == 0 &&
            (isspace((unsigned char)html[after]) || html[after] == '/' || html[after] == '>'))
            return at;
        from = at + 1;
    }
    return length;
}

typedef enum { RAW_NONE, RAW_DROP, RAW_SVG, RAW_KEEP } raw_kind_t;

/* How the content of the element named at `name` is treated. */
static raw_kind_t raw_kind(const char *name, size_t name_length, const char **tag)
{
    static const char *const dropped[] = {"script", "style"};
    static const char *const kept[] = {"title", "textarea", "xmp"};
    for (size_t i = 0; i < 2; i++) {
        if (name_length == strlen(dropped[i]) && strncasecmp(name, dropped[i], name_length) == 0) {
            *tag = dropped[i];
            return RAW_DROP;
        }
    }
    if (name_length == 3 && strncasecmp(name, "svg", 3) == 0) {
        *tag = "svg";
        return RAW_SVG;
    }
    for (size_t i = 0; i < 3; i++) {
        if (name_length == strlen(kept[i]) && strncasecmp(name, kept[i], name_length) == 0) {
            *tag = kept[i];
            return RAW_KEEP;
        }
    }
    return RAW_NONE;
}

/* Attributes the extractor or gumbo's tree construction reads. "type" decides
 * how <input> is placed in tables, "encoding" marks HTML inside MathML, and
 * "color", "face" and "size" make <font> leave SVG and MathML content. */
static const char *const kept_attributes[] = {
    "role", "hidden", "aria-hidden", "lang", "xml:lang", "type", "encoding", "color", "face",
    "size",
};

typedef enum {
    ATTRIBUTE_DROP,
    ATTRIBUTE_KEEP,
    ATTRIBUTE_NAME_ONLY,
    ATTRIBUTE_CLASS,        /* class or id: kept only when a word names furniture */
    ATTRIBUTE_STYLE,        /* kept only when it may hide the element */
} attribute_use_t;

static attribute_use_t attribute_use(const char *name, size_t length)
{
    if (length == 4 && strncasecmp(name, "href", 4) == 0)
        return ATTRIBUTE_NAME_ONLY;
    if ((length == 5 && strncasecmp(name, "class", 5) == 0) ||
        (length == 2 && strncasecmp(name, "id", 2) == 0))
        return ATTRIBUTE_CLASS;
    if (length == 5 && strncasecmp(name, "style", 5) == 0)
        return ATTRIBUTE_STYLE;
    for (size_t i = 0; i < sizeof kept_attributes / sizeof kept_attributes[0]; i++) {
        if (length == strlen(kept_attributes[i]) &&
            strncasecmp(name, kept_attributes[i], length) == 0)
            return ATTRIBUTE_KEEP;
    }
    return ATTRIBUTE_DROP;
}

static bool is_tag_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/*
 * Decides whether a class, id or style value can change what the extractor
 * does: a class or id with a word that names furniture (checked as the
 * extractor checks it), a style that mentions "none" or "hidden". A value with
 * a character reference or over 4 KiB is kept, because gumbo decodes it.
 */
static bool attribute_value_matters(attribute_use_t use, const char *value, size_t length)
{
    if (length > 4096 || memchr(value, '&', length))
        return true;
    char copy[4097];
    memcpy(copy, value, length);
    copy[length] = '\0';
    if (use == ATTRIBUTE_CLASS)
        return attribute_names_furniture(copy, false);
    for (size_t i = 0; i < length; i++)
        copy[i] = (char)tolower((unsigned char)copy[i]);
    return strstr(copy, "none") || strstr(copy, "hidden");
}

/*
 * Copies the tag whose name ends at `name_end` from `html` to `out` with only
 * the attributes the extractor or the tree construction reads, following the
 * HTML5 attribute states. Returns the offset just past the tag's '>' and adds
 * the bytes written to *used, or returns `length` with nothing written when
 * the tag is not closed.
 */
static size_t copy_tag_attributes(const char *html, size_t length, size_t name_end, char *out,
                                  size_t *used)
{
    size_t written = *used;
    size_t i = name_end;
    bool self_closing = false;
    unsigned seen = 0; /* ATTRIBUTE_CLASS and ATTRIBUTE_STYLE names met, by bit */
    /* True when the output ends with a quoted value copied whole: an attribute
     * written right after it needs no space, as none stood there in `html`. */
    bool after_kept_quote = false;
    for (;;) {
        /* Only a '/' right before '>' makes a self-closing tag. */
        self_closing = false;
        size_t separator_start = i;
        while (i < length && (is_tag_space(html[i]) || html[i] == '/'))
            self_closing = html[i++] == '/';
        bool separated = i > separator_start;
        if (i >= length)
            return length;
        if (html[i] == '>')
            break;
        size_t name = i++; /* a first '=' belongs to the name */
        while (i < length && !is_tag_space(html[i]) && html[i] != '/' && html[i] != '>' &&
               html[i] != '=')
            i++;
        size_t name_length = i - name;
        size_t value = i, value_end = i;
        bool quoted = false;
        while (i < length && is_tag_space(html[i]))
            i++;
        if (i < length && html[i] == '=') {
            i++;
            while (i < length && is_tag_space(html[i]))
                i++;
            if (i < length && (html[i] == '"' || html[i] == '\'')) {
                const char *close = memchr(html + i + 1, html[i], length - i - 1);
                if (!close)
                    return length;
                value = i + 1;
                value_end = (size_t)(close - html);
                i = value_end + 1;
                quoted = true;
            } else {
                value = i;
                while (i < length && !is_tag_space(html[i]) && html[i] != '>')
                    i++;
                value_end = i;
            }
        }
        attribute_use_t use = attribute_use(html + name, name_length);
        if (use == ATTRIBUTE_CLASS || use == ATTRIBUTE_STYLE) {
            /* Gumbo keeps the first of repeated names, so only the first decides. */
            unsigned bit = 1u << (use == ATTRIBUTE_STYLE ? 2 : (name_length == 2));
            bool first = !(seen & bit);
            seen |= bit;
            if (!first || !attribute_value_matters(use, html + value, value_end - value))
                continue;
            use = ATTRIBUTE_KEEP;
        }
        if (use == ATTRIBUTE_DROP)
            continue;
        size_t end = use == ATTRIBUTE_KEEP ? i : name + name_length;
        /* Without a separator in `html` this attribute follows a quoted value;
         * a space is added only where that value was shortened or dropped, so
         * the copy never grows past the input. */
        if (separated || !after_kept_quote)
            out[written++] = ' ';
        memcpy(out + written, html + name, end - name);
        written += end - name;
        after_kept_quote = use == ATTRIBUTE_KEEP && quoted;
    }
    if (self_closing)
        out[written++] = '/';
    out[written++] = '>';
    *used = written;
    return i + 1;
}

/* Offset just past the comment starting at `from` ("<!--"), or 0 when the
 * scanner would end it elsewhere than the HTML5 tokenizer and leaves it. */
static size_t comment_end(const char *html, size_t length, size_t from)
{
    size_t body = from + 4;
    if (body < length && (html[body] == '>' || (html[body] == '-' && body + 1 < length &&
                                                html[body + 1] == '>')))
        return 0;
    const char *close = memmem(html + body, length - body, "-->", 3);
    if (!close)
        return 0;
    if (memmem(html + body, (size_t)(close - html) - body, "--!>", 4))
        return 0;
    return (size_t)(close - html) + 3;
}

/* Tag names that end SVG and MathML content in the HTML5 tree construction
 * ("font" only with some attributes, counted here always), and "svg", which
 * would make the first "</svg>" end the wrong element. */
static const char *const foreign_breakers[] = {
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
    "embed", "font", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li",
    "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span",
    "strong", "strike", "sub", "sup", "svg", "table", "tt", "u", "ul", "var",
};

static bool name_in(const char *name, size_t length, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (length == strlen(list[i]) && strncasecmp(name, list[i], length) == 0)
            return true;
    }
    return false;
}

/* True when the SVG content html[from, to) can be removed without changing
 * what gumbo builds outside it. */
static bool svg_content_removable(const char *html, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (html[i] != '<')
            continue;
        size_t name = i + 1;
        if (name < to && (html[name] == '!' || html[name] == '?'))
            return false; /* a comment or CDATA section may hide "</svg>" */
        if (name < to && html[name] == '/')
            name++;
        size_t end = name;
        while (end < to && !is_tag_space(html[end]) && html[end] != '/' && html[end] != '>')
            end++;
        if (name_in(html + name, end - name, foreign_breakers,
                    sizeof foreign_breakers / sizeof foreign_breakers[0]))
            return false;
    }
    return true;
}

/* Void elements that never contain or place text; they are removed whole. */
static const char *const removed_void_elements[] = {
    "meta", "link", "base", "img", "source", "track",
};

/* State of prepare_for_parse(): html[copied, i) is still to be copied to out. */
typedef struct {
    const char *html;
    size_t length;
    char *out;
    size_t used;
    size_t copied;
    int pre_depth;      /* open <pre> and <listing> elements; INT_MAX after <plaintext> */
} scanner_t;

/* Copies html[copied, to) to the output. Outside preformatted elements a run of
 * whitespace keeps only its first byte: the extractor collapses each run to
 * one space anyway, and a whitespace-only text node stays whitespace-only. */
static void scanner_flush(scanner_t *scanner, size_t to)
{
    const char *from = scanner->html + scanner->copied;
    size_t count = to - scanner->copied;
    char *out = scanner->out + scanner->used;
    scanner->copied = to;
    if (scanner->pre_depth > 0) {
        memcpy(out, from, count);
        scanner->used += count;
        return;
    }
    size_t written = 0;
    bool in_space = false;
    for (size_t i = 0; i < count; i++) {
        bool space = is_tag_space(from[i]);
        if (!(space && in_space))
            out[written++] = from[i];
        in_space = space;
    }
    scanner->used += written;
}

/* Follows the opening and closing of preformatted elements. */
static void scanner_track_pre(scanner_t *scanner, const char *name, size_t length, bool end)
{
    static const char *const preformatted[] = {"pre", "listing"};
    if (length == 9 && strncasecmp(name, "plaintext", 9) == 0 && !end)
        scanner->pre_depth = INT_MAX;
    else if (!name_in(name, length, preformatted, 2) || scanner->pre_depth == INT_MAX)
        return;
    else if (!end)
        scanner->pre_depth++;
    else if (scanner->pre_depth > 0)
        scanner->pre_depth--;
}

static size_t tag_name_end(const char *html, size_t length, size_t from)
{
    while (from < length && !is_tag_space(html[from]) && html[from] != '/' && html[from] != '>')
        from++;
    return from;
}

/* Handles the start tag at i. Returns the offset where scanning goes on. */
static size_t scanner_start_tag(scanner_t *scanner, size_t i)
{
    const char *html = scanner->html;
    size_t length = scanner->length;
    size_t name_end = tag_name_end(html, length, i + 1);
    const char *name = html + i + 1;
    size_t name_length = name_end - i - 1;
    const char *tag = NULL;
    raw_kind_t kind = raw_kind(name, name_length, &tag);
    bool is_void = name_in(name, name_length, removed_void_elements,
                           sizeof removed_void_elements / sizeof removed_void_elements[0]);

    /* Copy what precedes the tag and its name, then its kept attributes. */
    scanner_flush(scanner, i);
    size_t start = scanner->used;
    scanner_flush(scanner, name_end);
    size_t content = copy_tag_attributes(html, length, name_end, scanner->out, &scanner->used);
    if (content >= length) {
        scanner->used = start;  /* an unclosed tag is copied as it is, below */
        scanner->copied = i;
        scanner->pre_depth = 1;
        return length;
    }
    scanner->copied = content;
    if (is_void)
        scanner->used = start;
    scanner_track_pre(scanner, name, name_length, false);
    if (kind == RAW_NONE)
        return content;

    size_t end = find_end_tag(html, length, content, tag);
    bool kept_whole = kind == RAW_DROP && strcmp(tag, "script") == 0 &&
                      memmem(html + content, end - content, "<!--", 4);
    if (kind == RAW_SVG)
        kept_whole = !svg_content_removable(html, content, end);
    if (end >= length || kind == RAW_KEEP || kept_whole) {
        /* Raw text is copied as written: <xmp> is preformatted. */
        int depth = scanner->pre_depth;
        scanner->pre_depth = 1;
        scanner_flush(scanner, end);
        scanner->pre_depth = depth;
    }
    scanner->copied = end;
    return end;
}

/*
 * Copies `html` into a new buffer without the content of script, style and svg
 * elements, comments, some void elements, unused attributes and repeated
 * whitespace (see above). Returns the copy (malloc'ed, *out_length bytes,
 * NUL-terminated, never longer than `html`), or NULL when memory runs out.
 */
static char *prepare_for_parse(const char *html, size_t length, size_t *out_length)
{
    scanner_t scanner = {.html = html, .length = length, .out = malloc(length + 1)};
    if (!scanner.out)
        return NULL;
    size_t i = 0;
    while (i < length) {
        const char *open = memchr(html + i, '<', length - i);
        if (!open)
            break;
        i = (size_t)(open - html);
        if (length - i >= 4 && memcmp(html + i, "<!--", 4) == 0) {
            size_t end = comment_end(html, length, i);
            if (end == 0) {
                const char *close = memmem(html + i + 4, length - i - 4, "-->", 3);
                i = close ? (size_t)(close - html) + 3 : length;
                continue;
            }
            scanner_flush(&scanner, i);
            scanner.copied = i = end;
        } else if (i + 2 < length && html[i + 1] == '/' &&
                   is_ascii_alpha((unsigned char)html[i + 2])) {
            scanner_flush(&scanner, i);
            size_t name_end = tag_name_end(html, length, i + 2);
            scanner_track_pre(&scanner, html + i + 2, name_end - i - 2, true);
            i = name_end;
        } else if (i + 1 < length && is_ascii_alpha((unsigned char)html[i + 1])) {
            i = scanner_start_tag(&scanner, i);
        } else {
            i++;
        }
    }
    scanner_flush(&scanner, length);
    scanner.out[scanner.used] = '\0';
    *out_length = scanner.used;
    return scanner.out;
}

/* ------------------------------------------------------------------------ */
/* Title and language                                                        */

static const GumboNode *find_child(const GumboNode *parent, GumboTag tag)
{
    if (!parent || !is_element(parent))
        return NULL;
    const GumboVector *children = &parent->v.element.children;
    for (unsigned int i = 0; i < children->length; i++) {
        const GumboNode *child = children->data[i];
        if (is_element(child) && child->v.element.tag == tag)
            return child;
    }
    return NULL;
}

static char *collapse_copy(const char *text)
{
    text_builder_t builder = {0};
    builder.at_line_start = true;
    builder_text(&builder, text);
    if (builder.failed || !builder.data) {
        free(builder.data);
        return NULL;
    }
    builder.data[builder.length] = '\0';
    return builder.data;
}

static char *extract_title(const GumboNode *root)
{
    const GumboNode *title = find_child(find_child(root, GUMBO_TAG_HEAD), GUMBO_TAG_TITLE);
    if (!title || title->v.element.children.length == 0)
        return NULL;
    const GumboNode *text = title->v.element.children.data[0];
    if (text->type != GUMBO_NODE_TEXT && text->type != GUMBO_NODE_WHITESPACE)
        return NULL;
    return collapse_copy(text->v.text.text);
}

static char *extract_lang(const GumboNode *root)
{
    if (!root || !is_element(root))
        return NULL;
    const char *lang = attribute(&root->v.element, "lang");
    if (!lang)
        lang = attribute(&root->v.element, "xml:lang");
    return lang ? collapse_copy(lang) : NULL;
}

/* ------------------------------------------------------------------------ */

int html_text_extract(const char *html, size_t length, const html_text_options_t *options,
                      html_text_t *result)
{
    memset(result, 0, sizeof *result);
    html_text_options_t defaults;
    html_text_options_default(&defaults);

    size_t stripped_length;
    char *stripped = prepare_for_parse(html, length, &stripped_length);
    if (!stripped)
        return -1;
    html = stripped;
    length = stripped_length;

    GumboOptions parse_options = kGumboDefaultOptions;
    parse_options.max_errors = 0; /* keep no parse-error list: it costs time and memory */
    arena_t arena;
    arena_begin(&arena, length);
    parse_options.allocator = arena_allocate;
    parse_options.deallocator = arena_deallocate;
    parse_options.userdata = &arena;
    GumboOutput *output = gumbo_parse_with_options(&parse_options, html, length);
    if (!output) {
        arena_end(&arena);
        free(stripped);
        return -1;
    }

    extractor_t extractor = {0};
    extractor.options = options ? options : &defaults;
    extractor.out.at_line_start = true;
    const GumboNode *root = output->root;
    int status = -1;

    measure(&extractor, root, false, 0);
    if (extractor.failed)
        goto done;
    extractor.page_prose_bytes = extractor.counts[0].text_bytes - extractor.counts[0].link_bytes;
    emit(&extractor, root, false, 0);
    builder_trim_trailing_spaces(&extractor.out);
    builder_reserve(&extractor.out, 0);
    if (extractor.out.failed)
        goto done;

    result->text = extractor.out.data;
    result->length = extractor.out.length;
    result->text[result->length] = '\0';
    extractor.out.data = NULL;
    result->title = extract_title(root);
    result->lang = extract_lang(root);
    if (result->lang && result->lang[0] == '\0') {
        free(result->lang);
        result->lang = NULL;
    }
    status = 0;

done:
    free(extractor.out.data);
    free(extractor.counts);
    arena_end(&arena); /* holds the whole tree; gumbo_destroy_output would only walk it */
    free(stripped);
    return status;
}

void html_text_free(html_text_t *result)
{
    free(result->text);
    free(result->title);
    free(result->lang);
    memset(result, 0, sizeof *result);
}

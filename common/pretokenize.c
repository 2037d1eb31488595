/*
 * Pre-tokenization with PCRE2: compiles the split pattern once and walks its
 * matches over a text, reporting the gaps between matches as pieces too.
 *
 * PCRE2_MATCH_INVALID_UTF lets the pattern run over arbitrary bytes: invalid
 * sequences never match, so they surface as gaps and no byte is lost.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "pretokenize.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * PRETOKENIZE_GPT2_PATTERN as compiled. PCRE2 10.42 counts U+180E (Mongolian
 * vowel separator) in \s, but Unicode 6.3 and the regex engines behind
 * Hugging Face tokenizers do not. So \s is spelled out here as the rest of
 * PCRE2's set (tab to carriage return, NEL and the Z categories), which gives
 * the same pieces as tokenizers. Each class stays a single character class,
 * so long runs need no JIT stack for backtracking.
 */
#define GPT2_SPACE "\\t-\\r\\x{85}\\p{Z}"
#define GPT2_PATTERN_COMPILED \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" GPT2_SPACE "\\p{L}\\p{N}]+" \
    "|[" GPT2_SPACE "]+(?![^" GPT2_SPACE "])|[" GPT2_SPACE "]+"

struct pretokenizer {
    pcre2_code *code;
    char *pattern;
};

/* Per-thread match state: pcre2_match_data and a JIT stack may not be shared
 * by threads matching at the same time, and creating them per call costs an
 * allocation (and an mmap for the stack) per document. */
typedef struct {
    pcre2_match_data *match_data;
    pcre2_match_context *match_context;
    pcre2_jit_stack *jit_stack;
} match_scratch_t;

/* The JIT stack grows on demand up to this size (address space, committed
 * only when used). The GPT-2 pattern needs very little, but a Split regex
 * that repeats a group needs stack in proportion to the length of a piece. */
enum { JIT_STACK_START = 32 * 1024, JIT_STACK_MAX = 64 * 1024 * 1024 };

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_error;

static void scratch_free(void *pointer)
{
    match_scratch_t *scratch = pointer;
    if (!scratch)
        return;
    pcre2_match_data_free(scratch->match_data);
    pcre2_match_context_free(scratch->match_context);
    pcre2_jit_stack_free(scratch->jit_stack);
    free(scratch);
}

static void scratch_key_create(void)
{
    scratch_key_error = pthread_key_create(&scratch_key, scratch_free);
}

static match_scratch_t *scratch_get(void)
{
    pthread_once(&scratch_once, scratch_key_create);
    if (scratch_key_error) {
        log_error("pretokenize: pthread_key_create failed (error %d)", scratch_key_error);
        return NULL;
    }
    match_scratch_t *scratch = pthread_getspecific(scratch_key);
    if (scratch)
        return scratch;

    scratch = calloc(1, sizeof(*scratch));
    if (!scratch)
        goto fail;
    /* Two pairs are enough: only the whole match (pair 0) is read. */
    scratch->match_data = pcre2_match_data_create(2, NULL);
    scratch->match_context = pcre2_match_context_create(NULL);
    if (!scratch->match_data || !scratch->match_context)
        goto fail;
    scratch->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
    if (scratch->jit_stack)
        pcre2_jit_stack_assign(scratch->match_context, NULL, scratch->jit_stack);
    if (pthread_setspecific(scratch_key, scratch) != 0)
        goto fail;
    return scratch;

fail:
    log_error("pretokenize: out of memory creating match data");
    scratch_free(scratch);
    return NULL;
}

pretokenizer_t *pretokenizer_create(const char *pattern)
{
    if (!pattern)
        pattern = PRETOKENIZE_GPT2_PATTERN;

    pretokenizer_t *pretokenizer = calloc(1, sizeof(*pretokenizer));
    if (!pretokenizer) {
        log_error("pretokenize: out of memory");
        return NULL;
    }
    pretokenizer->pattern = strdup(pattern);
    if (!pretokenizer->pattern) {
        log_error("pretokenize: out of memory");
        goto fail;
    }

    /* NOTE: other patterns (e.g. a Split regex from Llama 3's tokenizer.json)
     * keep PCRE2's \s, so U+180E may split differently there. Any pattern
     * follows PCRE2's Unicode tables (Unicode 14 in PCRE2 10.42), so letters
     * assigned later are not \p{L} here. */
    const char *compiled = pattern;
    if (strcmp(pattern, PRETOKENIZE_GPT2_PATTERN) == 0)
        compiled = GPT2_PATTERN_COMPILED;

    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    pretokenizer->code = pcre2_compile((PCRE2_SPTR)compiled, PCRE2_ZERO_TERMINATED, options,
                                       &error_code, &error_offset, NULL);
    if (!pretokenizer->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof(message));
        log_error("pretokenize: invalid regex at offset %zu: %s (pattern: %s)",
                  (size_t)error_offset, (const char *)message, pattern);
        goto fail;
    }

    /* Without JIT (e.g. an architecture PCRE2 has no JIT for) matching still
     * works through the interpreter, only slower. */
    int jit_status = pcre2_jit_compile(pretokenizer->code, PCRE2_JIT_COMPLETE);
    if (jit_status != 0)
        log_debug("pretokenize: JIT compilation unavailable (PCRE2 error %d), using the "
                  "interpreter", jit_status);
    return pretokenizer;

fail:
    pretokenizer_free(pretokenizer);
    return NULL;
}

void pretokenizer_free(pretokenizer_t *pretokenizer)
{
    if (!pretokenizer)
        return;
    pcre2_code_free(pretokenizer->code);
    free(pretokenizer->pattern);
    free(pretokenizer);
}

const char *pretokenizer_pattern(const pretokenizer_t *pretokenizer)
{
    return pretokenizer->pattern;
}

int pretokenize_split(const pretokenizer_t *pretokenizer, const char *text, size_t length,
                      pretokenize_piece_fn on_piece, void *context)
{
    match_scratch_t *scratch = scratch_get();
    if (!scratch)
        return -1;

    PCRE2_SPTR subject = (PCRE2_SPTR)text;
    size_t gap_start = 0;   /* first byte not yet reported */
    size_t offset = 0;      /* where the next search starts */
    uint32_t match_options = 0;

    while (offset < length) {
        int rc = pcre2_match(pretokenizer->code, subject, length, offset, match_options,
                             scratch->match_data, scratch->match_context);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(rc, message, sizeof(message));
            log_error("pretokenize: regex matching failed at byte %zu: %s", offset,
                      (const char *)message);
            return -1;
        }

        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(scratch->match_data);
        size_t start = ovector[0], end = ovector[1];
        if (start == end) {
            /* An empty match would repeat forever: search again from the same
             * place for a non-empty one. */
            offset = start;
            match_options = PCRE2_NOTEMPTY_ATSTART;
            continue;
        }
        match_options = 0;

        if (start > gap_start) {
            int status = on_piece(context, text + gap_start, start - gap_start);
            if (status != 0)
                return status;
        }
        int status = on_piece(context, text + start, end - start);
        if (status != 0)
            return status;
        gap_start = end;
        offset = end;
    }

    if (length > gap_start)
        return on_piece(context, text + gap_start, length - gap_start);
    return 0;
}

/*
 * libFuzzer target for charset detection and conversion and for main-text
 * extraction: any bytes, taken as an HTML payload, go through the same steps
 * crawl-ingest applies, and the extracted text must be valid UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "html_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char charset[CHARSET_NAME_MAX];
    charset_determine(data, size, "text/html", 1, charset, sizeof charset);
    char *utf8 = NULL;
    size_t utf8_length = 0;
    size_t replacements = 0;
    int fallback = 0;
    if (charset_to_utf8(data, size, charset, &utf8, &utf8_length, &replacements, &fallback) != 0)
        return 0;
    html_text_t result;
    if (html_text_extract(utf8, utf8_length, NULL, &result) == 0) {
        if (!charset_is_valid_utf8((const unsigned char *)result.text, result.length))
            abort();
        if (strlen(result.text) != result.length)
            abort();
        html_text_free(&result);
    }
    free(utf8);
    return 0;
}

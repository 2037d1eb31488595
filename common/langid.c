/*
 * Allowed-language lists for langid.h; detection itself is in langid_cld2.cc.
 */
#include "langid.h"

#include <string.h>

/* Length of the primary subtag: "zh" in "zh-Hant". */
static size_t primary_length(const char *code, size_t length)
{
    const char *dash = memchr(code, '-', length);
    return dash ? (size_t)(dash - code) : length;
}

bool langid_code_allowed(const char *allowed, const char *code)
{
    if (!allowed || !allowed[0])
        return true;
    size_t code_length = strlen(code);
    size_t code_primary = primary_length(code, code_length);
    const char *entry = allowed;
    while (*entry) {
        const char *comma = strchr(entry, ',');
        size_t entry_length = comma ? (size_t)(comma - entry) : strlen(entry);
        while (entry_length > 0 && *entry == ' ') {
            entry++;
            entry_length--;
        }
        while (entry_length > 0 && entry[entry_length - 1] == ' ')
            entry_length--;
        bool whole = entry_length == code_length && strncmp(entry, code, code_length) == 0;
        bool primary = entry_length == code_primary && strncmp(entry, code, code_primary) == 0;
        if (entry_length > 0 && (whole || primary))
            return true;
        if (!comma)
            break;
        entry = comma + 1;
    }
    return false;
}

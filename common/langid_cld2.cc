// CLD2 behind the C interface of langid.h (see there for the choice of CLD2).
#include <cstdio>   // compact_lang_det.h uses FILE without including it
#include <cstring>

#include <cld2/public/compact_lang_det.h>

extern "C" {
#include "langid.h"
}

extern "C" void langid_detect(const char *text, size_t length, langid_result_t *result)
{
    std::snprintf(result->code, sizeof result->code, "un");
    result->score = 0.0;
    result->reliable = false;
    if (length == 0 || length > 0x7fffffff)
        return;

    CLD2::Language languages[3];
    int percents[3] = {0, 0, 0};
    double normalized[3];
    int text_bytes = 0;
    int valid_prefix = 0;
    bool reliable = false;
    CLD2::Language language = CLD2::ExtDetectLanguageSummaryCheckUTF8(
        text, static_cast<int>(length), true, nullptr, 0, languages, percents, normalized,
        nullptr, &text_bytes, &reliable, &valid_prefix);
    if (language == CLD2::UNKNOWN_LANGUAGE || valid_prefix < static_cast<int>(length))
        return;

    std::snprintf(result->code, sizeof result->code, "%s", CLD2::LanguageCode(language));
    result->reliable = reliable;
    // percents[0] belongs to languages[0], which is the returned language in all but rare
    // ties, so look the returned language up rather than assume its position.
    for (int i = 0; i < 3; i++) {
        if (languages[i] == language) {
            result->score = percents[i] / 100.0;
            break;
        }
    }
}

/* Unit tests for langid: CLD2 on English, Chinese, Japanese and Korean text, and allowed lists. */
#include <string.h>

#include "check.h"
#include "langid.h"

static void check_language(const char *text, const char *expected)
{
    langid_result_t result;
    langid_detect(text, strlen(text), &result);
    if (strcmp(result.code, expected) != 0)
        fprintf(stderr, "text \"%.40s\" detected as %s\n", text, result.code);
    CHECK_STR_EQ(result.code, expected);
    CHECK(result.score > 0.5);
    CHECK(result.score <= 1.0);
}

static void test_detection(void)
{
    check_language("The package manager installs, upgrades and removes software on a Debian "
                   "system, and resolves the dependencies between packages.", "en");
    check_language("软件包管理器负责在 Debian 系统上安装、升级和删除软件，"
                   "并解决软件包之间的依赖关系。", "zh");
    check_language("軟體包管理器負責在系統上安裝、升級和刪除軟體，並解決軟體包之間的依賴關係。",
                   "zh-Hant");
    check_language("パッケージマネージャーは、システム上のソフトウェアをインストール、"
                   "アップグレード、削除し、パッケージ間の依存関係を解決します。", "ja");
    check_language("패키지 관리자는 시스템에서 소프트웨어를 설치하고 업그레이드하며 제거하고 "
                   "패키지 간의 의존성을 해결합니다.", "ko");
    check_language("Le gestionnaire de paquets installe, met à jour et supprime les logiciels "
                   "du système, et résout les dépendances entre les paquets.", "fr");
}

static void test_unknown(void)
{
    langid_result_t result;
    langid_detect("", 0, &result);
    CHECK_STR_EQ(result.code, "un");
    CHECK(result.score == 0.0);
    const char invalid[] = "abc \xff\xfe def";
    langid_detect(invalid, sizeof invalid - 1, &result);
    CHECK_STR_EQ(result.code, "un");
}

static void test_allowed(void)
{
    CHECK(langid_code_allowed("", "en"));
    CHECK(langid_code_allowed(NULL, "en"));
    CHECK(langid_code_allowed("en,zh", "zh"));
    CHECK(langid_code_allowed("en, zh", "zh-Hant"));
    CHECK(langid_code_allowed("zh-Hant", "zh-Hant"));
    CHECK(!langid_code_allowed("zh-Hant", "zh"));
    CHECK(!langid_code_allowed("en,zh", "ja"));
    CHECK(!langid_code_allowed("e", "en"));
}

int main(void)
{
    test_detection();
    test_unknown();
    test_allowed();
    return CHECK_DONE();
}

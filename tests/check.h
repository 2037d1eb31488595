/*
 * Minimal checks for unit tests: each failed check prints the case, the
 * source line and both values, and the test exits non-zero at the end.
 */
#ifndef LMPIPE_TESTS_CHECK_H
#define LMPIPE_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                            \
    do {                                                                       \
        check_count++;                                                         \
        if (!(cond)) {                                                         \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

#define CHECK_INT_EQ(actual, expected)                                         \
    do {                                                                       \
        long long check_a_ = (long long)(actual);                              \
        long long check_e_ = (long long)(expected);                            \
        check_count++;                                                         \
        if (check_a_ != check_e_) {                                            \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s = %lld, expected %lld\n", __FILE__,     \
                    __LINE__, #actual, check_a_, check_e_);                    \
        }                                                                      \
    } while (0)

#define CHECK_STR_EQ(actual, expected)                                         \
    do {                                                                       \
        const char *check_a_ = (actual);                                       \
        const char *check_e_ = (expected);                                     \
        check_count++;                                                         \
        if (!check_a_ || !check_e_ || strcmp(check_a_, check_e_) != 0) {       \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s = \"%s\", expected \"%s\"\n", __FILE__, \
                    __LINE__, #actual, check_a_ ? check_a_ : "(null)",         \
                    check_e_ ? check_e_ : "(null)");                           \
        }                                                                      \
    } while (0)

#define CHECK_NEAR(actual, expected, tolerance)                                \
    do {                                                                       \
        double check_a_ = (double)(actual);                                    \
        double check_e_ = (double)(expected);                                  \
        check_count++;                                                         \
        if (!(fabs(check_a_ - check_e_) <= (tolerance))) {                     \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tolerance %g)\n",\
                    __FILE__, __LINE__, #actual, check_a_, check_e_,           \
                    (double)(tolerance));                                      \
        }                                                                      \
    } while (0)

/* Ends main: prints the totals and returns the exit status. */
#define CHECK_DONE()                                                           \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures),   \
     check_failures ? 1 : 0)

#endif

/* YAML model configs: a valid file, rejected keys and values, size checks. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "model_config.h"

static char path[] = "/tmp/lmpipe-test-model-config.XXXXXX";

/* Writes `text` to the test file and loads it into a defaulted config. */
static int load_text(const char *text, model_config_t *config)
{
    FILE *out = fopen(path, "w");
    fputs(text, out);
    fclose(out);
    model_config_defaults(config);
    return model_config_load(path, config);
}

int main(void)
{
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);

    model_config_t cfg;
    CHECK_INT_EQ(load_text("family: gpt2\nn_layer: 4\nn_head: 4\nn_embd: 256\nn_ctx: 128\n"
                           "dropout: 0.0\n",
                           &cfg),
                 0);
    CHECK_INT_EQ(cfg.n_layer, 4);
    CHECK_INT_EQ(cfg.n_embd, 256);
    CHECK_INT_EQ(cfg.vocab_size, 0);
    /* The vocabulary comes later, from the data; padding rounds it up to 64. */
    CHECK_INT_EQ(model_config_finish(&cfg, path), -1);
    cfg.vocab_size = 8193;
    CHECK_INT_EQ(model_config_finish(&cfg, path), 0);
    CHECK_INT_EQ(cfg.padded_vocab_size, 8256);

    CHECK_INT_EQ(load_text("n_layer: 2\nn_layers: 3\n", &cfg), -1);  /* unknown key */
    CHECK_INT_EQ(load_text("n_layer: two\n", &cfg), -1);             /* not an integer */
    CHECK_INT_EQ(load_text("dropout: 0.1\n", &cfg), -1);             /* unsupported */
    CHECK_INT_EQ(load_text("family: llama\n", &cfg), -1);            /* unsupported */
    CHECK_INT_EQ(load_text("- 1\n- 2\n", &cfg), -1);                 /* not a mapping */
    CHECK_INT_EQ(load_text("n_layer: [1\n", &cfg), -1);              /* invalid YAML */

    CHECK_INT_EQ(load_text("n_layer: 2\nn_head: 3\nn_embd: 8\nn_ctx: 4\nvocab_size: 10\n", &cfg),
                 0);
    CHECK_INT_EQ(model_config_finish(&cfg, path), -1); /* 8 is not divisible by 3 */

    CHECK_INT_EQ(load_text("", &cfg), -1); /* an empty file is no mapping */
    unlink(path);
    return CHECK_DONE();
}

/* YAML model configs: a valid file, rejected keys and values, size checks,
 * the Llama keys and defaults, and the parameter counts of the shipped configs. */
#include <math.h>
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
    CHECK_INT_EQ(load_text("family: mamba\n", &cfg), -1);            /* unsupported */
    CHECK_INT_EQ(load_text("- 1\n- 2\n", &cfg), -1);                 /* not a mapping */
    CHECK_INT_EQ(load_text("n_layer: [1\n", &cfg), -1);              /* invalid YAML */

    CHECK_INT_EQ(load_text("n_layer: 2\nn_head: 3\nn_embd: 8\nn_ctx: 4\nvocab_size: 10\n", &cfg),
                 0);
    CHECK_INT_EQ(model_config_finish(&cfg, path), -1); /* 8 is not divisible by 3 */

    CHECK_INT_EQ(load_text("", &cfg), -1); /* an empty file is no mapping */

    /* Llama keys and the defaults that depend on sizes. */
    CHECK_INT_EQ(load_text("family: llama\nn_layer: 2\nn_head: 4\nn_embd: 96\nn_ctx: 16\n"
                           "vocab_size: 100\nrope_theta: 500000\ntie_word_embeddings: false\n",
                           &cfg),
                 0);
    CHECK_INT_EQ(model_config_finish(&cfg, path), 0);
    CHECK_INT_EQ(cfg.family, MODEL_FAMILY_LLAMA);
    CHECK_INT_EQ(cfg.n_kv_head, 4);
    CHECK_INT_EQ(cfg.intermediate_size, 256); /* 8/3 * 96 = 256, a multiple of 64 */
    CHECK_INT_EQ(cfg.tie_word_embeddings, 0);
    CHECK(cfg.rope_theta == 500000.0f);
    CHECK_INT_EQ(load_text("family: llama\nn_layer: 1\nn_head: 4\nn_kv_head: 3\nn_embd: 32\n"
                           "n_ctx: 8\nvocab_size: 10\n",
                           &cfg),
                 0);
    CHECK_INT_EQ(model_config_finish(&cfg, path), -1); /* 4 heads do not group by 3 */
    CHECK_INT_EQ(load_text("family: llama\nn_layer: 1\nn_head: 4\nn_embd: 12\nn_ctx: 8\n"
                           "vocab_size: 10\n",
                           &cfg),
                 0);
    CHECK_INT_EQ(model_config_finish(&cfg, path), -1); /* head size 3 is odd: no RoPE pairs */
    CHECK_INT_EQ(load_text("tie_word_embeddings: maybe\n", &cfg), -1);
    CHECK_INT_EQ(load_text("rope_theta: -1\n", &cfg), -1);
    CHECK_INT_EQ(load_text("family: gpt2\nn_layer: 1\nn_head: 1\nn_embd: 8\nn_ctx: 8\n"
                           "vocab_size: 10\nattention_bias: true\n",
                           &cfg),
                 0);
    CHECK_INT_EQ(model_config_finish(&cfg, path), -1); /* not a GPT-2 option */

    /* Llama-3 scaling leaves short wavelengths, divides long ones by the factor. */
    cfg.rope_theta = 500000.0f;
    cfg.n_embd = 128, cfg.n_head = 1;
    cfg.rope_scaling_factor = 8.0f, cfg.rope_low_freq_factor = 1.0f;
    cfg.rope_high_freq_factor = 4.0f, cfg.rope_original_max_position = 8192;
    float inv_freq[64];
    model_config_rope_frequencies(&cfg, inv_freq);
    CHECK(inv_freq[0] == 1.0f);
    CHECK_NEAR(inv_freq[63], pow(500000.0, -126.0 / 128.0) / 8.0, 1e-12);

    /* The shipped configs and their published parameter counts. */
    struct {
        const char *file;
        int vocab;
        long long params;
    } shipped[] = {
        {"gpt2-124m.yaml", 0, 124475904LL},  /* with the vocabulary padded to 50304 */
        {"gpt2-350m.yaml", 0, 354871296LL},
        {"smollm-135m.yaml", 0, 134515008LL},
        {"llama-tiny.yaml", 256, 0},
        {"tiny.yaml", 256, 0},
        {"demo.yaml", 8192, 0},
    };
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        char file[1024];
        snprintf(file, sizeof file, "%s/%s", MODEL_CONFIGS, shipped[i].file);
        model_config_defaults(&cfg);
        CHECK_INT_EQ(model_config_load(file, &cfg), 0);
        if (shipped[i].vocab)
            cfg.vocab_size = shipped[i].vocab;
        CHECK_INT_EQ(model_config_finish(&cfg, file), 0);
        if (shipped[i].params)
            CHECK_INT_EQ(model_config_param_count(&cfg), shipped[i].params);
    }
    unlink(path);
    return CHECK_DONE();
}

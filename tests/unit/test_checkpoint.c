/*
 * Checkpoint folders: save and load round trip of weights and AdamW moments,
 * GPT-2 tensor names and the Conv1D transposition, config.json fields,
 * replacing an existing checkpoint, a failed save that keeps the old one,
 * and finding the latest step.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "checkpoint.h"
#include "safetensors.h"

static char folder[] = "/tmp/lmpipe-test-checkpoint.XXXXXX";

static void make_model(model_t *model)
{
    model_config_t cfg;
    model_config_defaults(&cfg);
    cfg.n_layer = 2, cfg.n_head = 2, cfg.n_embd = 8, cfg.n_ctx = 16, cfg.vocab_size = 70;
    CHECK_INT_EQ(model_config_finish(&cfg, "test"), 0);
    CHECK_INT_EQ(cfg.padded_vocab_size, 128);
    CHECK_INT_EQ(model_init(model, &cfg), 0);
    model_init_random(model, 99);
    /* Distinct values everywhere, padded rows aside. */
    for (int64_t i = 0; i < model->param_count; i++)
        model->params[i] += (float)(i % 97) * 1e-3f;
    float *wte = model->params + model->tensor_offset[MODEL_WTE];
    memset(wte + 70 * 8, 0, sizeof(float) * 58 * 8);
}

static void test_round_trip(void)
{
    model_t model;
    make_model(&model);
    optimizer_settings_t settings = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f};
    optimizer_t opt;
    CHECK_INT_EQ(optimizer_init(&opt, &model, &settings), 0);
    for (int64_t i = 0; i < opt.count; i++) {
        opt.m[i] = (float)i * 0.5f;
        opt.v[i] = (float)i * 0.25f;
    }
    /* Padded rows of the moments are zero in training, as in the weights. */
    memset(opt.m + model.tensor_offset[MODEL_WTE] + 70 * 8, 0, sizeof(float) * 58 * 8);
    memset(opt.v + model.tensor_offset[MODEL_WTE] + 70 * 8, 0, sizeof(float) * 58 * 8);

    char tokenizer[256], path[256];
    snprintf(tokenizer, sizeof tokenizer, "%s/tokenizer.json", folder);
    FILE *out = fopen(tokenizer, "w");
    fputs("{\"model\": {}}\n", out);
    fclose(out);
    snprintf(path, sizeof path, "%s/step-000010", folder);
    checkpoint_extras_t extras = {.optimizer = &opt, .tokenizer_path = tokenizer,
                                  .trainer_state_json = "{\"step\": 10}\n",
                                  .eos_token_id = 69};
    CHECK_INT_EQ(checkpoint_save(path, &model, &extras), 0);
    /* Saving again replaces the folder. */
    CHECK_INT_EQ(checkpoint_save(path, &model, &extras), 0);

    model_t loaded;
    CHECK_INT_EQ(checkpoint_load_model(path, &loaded), 0);
    CHECK_INT_EQ(loaded.param_count, model.param_count);
    CHECK(memcmp(loaded.params, model.params, sizeof(float) * (size_t)model.param_count) == 0);
    CHECK_INT_EQ(loaded.config.n_ctx, 16);
    CHECK_INT_EQ(loaded.config.vocab_size, 70);

    optimizer_t opt2;
    CHECK_INT_EQ(optimizer_init(&opt2, &loaded, &settings), 0);
    CHECK_INT_EQ(checkpoint_load_optimizer(path, &loaded, &opt2), 0);
    CHECK(memcmp(opt2.m, opt.m, sizeof(float) * (size_t)opt.count) == 0);
    CHECK(memcmp(opt2.v, opt.v, sizeof(float) * (size_t)opt.count) == 0);

    char *state = checkpoint_read_trainer_state(path);
    CHECK_STR_EQ(state, "{\"step\": 10}\n");
    free(state);

    /* GPT-2 names and layouts as transformers expects them. */
    char file_path[300];
    snprintf(file_path, sizeof file_path, "%s/model.safetensors", path);
    safetensors_t *file = safetensors_open(file_path);
    CHECK(file != NULL);
    if (file) {
        CHECK_INT_EQ(safetensors_count(file), 4 + 2 * 12);
        const safetensors_tensor_t *wte = safetensors_find(file, "transformer.wte.weight");
        CHECK(wte && wte->shape[0] == 70 && wte->shape[1] == 8);
        const safetensors_tensor_t *attn = safetensors_find(file,
                                                            "transformer.h.1.attn.c_attn.weight");
        CHECK(attn && attn->ndim == 2 && attn->shape[0] == 8 && attn->shape[1] == 24);
        if (attn) {
            /* file [in, out] = internal (out, in) transposed */
            const float *stored = attn->data;
            const float *internal = model_tensor(&model, model.params, MODEL_QKV_W, 1);
            CHECK(stored[3 * 24 + 17] == internal[17 * 8 + 3]);
        }
        const safetensors_tensor_t *fc = safetensors_find(file, "transformer.h.0.mlp.c_proj.weight");
        CHECK(fc && fc->shape[0] == 32 && fc->shape[1] == 8);
        CHECK(safetensors_find(file, "lm_head.weight") == NULL);
        CHECK_STR_EQ(safetensors_metadata(file, "format"), "pt");
        safetensors_close(file);
    }

    snprintf(file_path, sizeof file_path, "%s/config.json", path);
    json_t *config = json_load_file(file_path, 0, NULL);
    CHECK(config != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(config, "model_type")), "gpt2");
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(config, "architectures"), 0)),
                 "GPT2LMHeadModel");
    CHECK_STR_EQ(json_string_value(json_object_get(config, "activation_function")), "gelu_new");
    CHECK_INT_EQ(json_integer_value(json_object_get(config, "n_positions")), 16);
    CHECK_INT_EQ(json_integer_value(json_object_get(config, "eos_token_id")), 69);
    json_decref(config);

    snprintf(file_path, sizeof file_path, "%s/tokenizer.json", path);
    CHECK(access(file_path, R_OK) == 0);

    optimizer_free(&opt);
    optimizer_free(&opt2);
    model_free(&loaded);
    model_free(&model);
}

static void test_find_latest(void)
{
    char parent[256], path[300];
    snprintf(parent, sizeof parent, "%s/checkpoints", folder);
    char *found = NULL;
    int64_t step = -1;
    CHECK_INT_EQ(checkpoint_find_latest(parent, &found, &step), 0);
    mkdir(parent, 0755);
    const char *names[] = {"step-000002", "step-000120", "step-000300.tmp-12", "other"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", parent, names[i]);
        mkdir(path, 0755);
    }
    CHECK_INT_EQ(checkpoint_find_latest(parent, &found, &step), 1);
    CHECK_INT_EQ(step, 120);
    snprintf(path, sizeof path, "%s/step-000120", parent);
    CHECK_STR_EQ(found, path);
    free(found);
}

/* Returns the number of entries of `parent` whose name starts with `prefix`. */
static int count_entries(const char *parent, const char *prefix)
{
    DIR *dir = opendir(parent);
    int count = 0;
    for (struct dirent *entry; dir && (entry = readdir(dir));)
        count += strncmp(entry->d_name, prefix, strlen(prefix)) == 0;
    if (dir)
        closedir(dir);
    return count;
}

/* A save that fails part way (here: a missing tokenizer.json to copy) leaves
 * the earlier checkpoint of the same name whole and no temporary folder. */
static void test_failed_save_keeps_old(void)
{
    char path[256], file_path[300];
    snprintf(path, sizeof path, "%s/step-000010", folder);
    snprintf(file_path, sizeof file_path, "%s/model.safetensors", path);
    model_t before;
    CHECK_INT_EQ(checkpoint_load_model(path, &before), 0);

    model_t other;
    make_model(&other);
    for (int64_t i = 0; i < other.param_count; i++)
        other.params[i] = -1.0f;
    checkpoint_extras_t extras = {.tokenizer_path = "/nonexistent/tokenizer.json",
                                  .eos_token_id = -1};
    CHECK_INT_EQ(checkpoint_save(path, &other, &extras), -1);

    model_t after;
    CHECK_INT_EQ(checkpoint_load_model(path, &after), 0);
    CHECK_INT_EQ(after.param_count, before.param_count);
    CHECK(memcmp(after.params, before.params, sizeof(float) * (size_t)before.param_count) == 0);
    CHECK_INT_EQ(count_entries(folder, "step-000010.tmp-"), 0);
    CHECK_INT_EQ(count_entries(folder, "step-000010"), 1);
    model_free(&other);
    model_free(&before);
    model_free(&after);
}

static void test_missing_tensor(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/step-000010", folder);
    char file_path[300];
    snprintf(file_path, sizeof file_path, "%s/model.safetensors", path);
    /* Replace the weights by a file that lacks most tensors. */
    float bias_value = 1.0f;
    safetensors_writer_t *w = safetensors_writer_new();
    safetensors_writer_add_f32(w, "transformer.ln_f.bias", 1, (int64_t[]){1}, &bias_value, 0);
    CHECK_INT_EQ(safetensors_writer_save(w, file_path), 0);
    safetensors_writer_free(w);
    model_t model;
    CHECK_INT_EQ(checkpoint_load_model(path, &model), -1);
}

int main(void)
{
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_find_latest();
    test_failed_save_keeps_old();
    test_missing_tensor();
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", folder);
    return CHECK_DONE();
}

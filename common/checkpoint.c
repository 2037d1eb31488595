/* Hugging Face layout checkpoints; see checkpoint.h. */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "safetensors.h"

/* GPT-2 names of the model tensors, per layer where "%d" appears. */
static const char *const hf_names[MODEL_N_TENSORS] = {
    [MODEL_WTE] = "transformer.wte.weight",
    [MODEL_WPE] = "transformer.wpe.weight",
    [MODEL_LN1_W] = "transformer.h.%d.ln_1.weight",
    [MODEL_LN1_B] = "transformer.h.%d.ln_1.bias",
    [MODEL_QKV_W] = "transformer.h.%d.attn.c_attn.weight",
    [MODEL_QKV_B] = "transformer.h.%d.attn.c_attn.bias",
    [MODEL_ATTN_PROJ_W] = "transformer.h.%d.attn.c_proj.weight",
    [MODEL_ATTN_PROJ_B] = "transformer.h.%d.attn.c_proj.bias",
    [MODEL_LN2_W] = "transformer.h.%d.ln_2.weight",
    [MODEL_LN2_B] = "transformer.h.%d.ln_2.bias",
    [MODEL_FC_W] = "transformer.h.%d.mlp.c_fc.weight",
    [MODEL_FC_B] = "transformer.h.%d.mlp.c_fc.bias",
    [MODEL_FC_PROJ_W] = "transformer.h.%d.mlp.c_proj.weight",
    [MODEL_FC_PROJ_B] = "transformer.h.%d.mlp.c_proj.bias",
    [MODEL_LNF_W] = "transformer.ln_f.weight",
    [MODEL_LNF_B] = "transformer.ln_f.bias",
};

/* Where one stored tensor lives in the model and how it is laid out on disk. */
typedef struct {
    char name[96];
    int64_t offset;   /* into params (or m, v) */
    int64_t rows;     /* stored rows of the internal layout */
    int64_t cols;
    int transposed;   /* Conv1D: the file contains the (cols, rows) transpose */
} tensor_slot_t;

/* Returns the number of slots; fills `slots` (sized by slot_count) when non-NULL. */
static int list_slots(const model_t *model, tensor_slot_t *slots)
{
    int count = 0;
    for (int id = 0; id < MODEL_N_TENSORS; id++) {
        const model_tensor_info_t *info = &model->info[id];
        int layers = info->per_layer ? model->config.n_layer : 1;
        for (int l = 0; l < layers; l++, count++) {
            if (!slots)
                continue;
            tensor_slot_t *s = &slots[count];
            snprintf(s->name, sizeof s->name, hf_names[id], l);
            s->offset = model->tensor_offset[id] + (int64_t)l * info->rows * info->cols;
            s->rows = id == MODEL_WTE ? model->config.vocab_size : info->rows;
            s->cols = info->cols;
            s->transposed = info->per_layer && info->is_matrix;
        }
    }
    return count;
}

/* Adds the tensors of `base` (params, m or v) to a writer under prefix+name. */
static int add_tensors(safetensors_writer_t *writer, const model_t *model, const float *base,
                       const char *prefix)
{
    int count = list_slots(model, NULL);
    tensor_slot_t *slots = calloc((size_t)count, sizeof *slots);
    if (!slots)
        return -1;
    list_slots(model, slots);
    int status = 0;
    for (int i = 0; i < count && status == 0; i++) {
        const tensor_slot_t *s = &slots[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, s->name);
        const float *src = base + s->offset;
        if (s->transposed) {
            float *t = malloc((size_t)(s->rows * s->cols) * sizeof(float));
            if (!t) {
                status = -1;
                break;
            }
            for (int64_t r = 0; r < s->rows; r++)
                for (int64_t c = 0; c < s->cols; c++)
                    t[c * s->rows + r] = src[r * s->cols + c];
            int64_t shape[2] = {s->cols, s->rows};
            status = safetensors_writer_add_f32(writer, name, 2, shape, t, 1);
        } else if (s->cols == 1) {
            int64_t shape[1] = {s->rows};
            status = safetensors_writer_add_f32(writer, name, 1, shape, src, 0);
        } else {
            int64_t shape[2] = {s->rows, s->cols};
            status = safetensors_writer_add_f32(writer, name, 2, shape, src, 0);
        }
    }
    free(slots);
    return status;
}

static int write_config_json(const char *path, const model_t *model, int64_t eos_token_id)
{
    const model_config_t *cfg = &model->config;
    json_t *root = json_pack(
        "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:n, s:s, s:f, s:f, s:f, s:f, s:f, s:b, "
        "s:s, s:b, s:b}",
        "architectures", "GPT2LMHeadModel", "model_type", "gpt2", "vocab_size", cfg->vocab_size,
        "n_positions", cfg->n_ctx, "n_ctx", cfg->n_ctx, "n_embd", cfg->n_embd, "n_layer",
        cfg->n_layer, "n_head", cfg->n_head, "n_inner", "activation_function", "gelu_new",
        "resid_pdrop", 0.0, "embd_pdrop", 0.0, "attn_pdrop", 0.0, "layer_norm_epsilon",
        (double)cfg->layer_norm_eps, "initializer_range", (double)cfg->init_std,
        "tie_word_embeddings", 1, "torch_dtype", "float32", "scale_attn_weights", 1,
        "use_cache", 1);
    if (!root)
        return -1;
    if (eos_token_id >= 0) {
        json_object_set_new(root, "bos_token_id", json_integer(eos_token_id));
        json_object_set_new(root, "eos_token_id", json_integer(eos_token_id));
    }
    int status = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (status != 0)
        log_error("%s: cannot write: %s", path, strerror(errno));
    return status;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = NULL;
    char buffer[65536];
    size_t n;
    int status = -1;
    if (!in) {
        log_error("%s: cannot open: %s", from, strerror(errno));
        return -1;
    }
    out = fopen(to, "wb");
    if (!out) {
        log_error("%s: cannot create: %s", to, strerror(errno));
        goto done;
    }
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0)
        if (fwrite(buffer, 1, n, out) != n)
            goto done;
    status = ferror(in) ? -1 : 0;
done:
    if (out && fclose(out) != 0)
        status = -1;
    fclose(in);
    if (status != 0)
        log_error("%s: cannot copy to %s", from, to);
    return status;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_text(const char *path, const char *text)
{
    FILE *out = fopen(path, "w");
    if (!out || fputs(text, out) < 0 || fclose(out) != 0) {
        log_error("%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes every file of the checkpoint into the (new, empty) folder `dir`. */
static int write_files(const char *dir, const model_t *model, const checkpoint_extras_t *extras)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (write_config_json(path, model, extras ? extras->eos_token_id : -1) != 0)
        return -1;

    safetensors_writer_t *writer = safetensors_writer_new();
    int status = writer ? add_tensors(writer, model, model->params, "") : -1;
    if (writer)
        safetensors_writer_set_metadata(writer, "format", "pt");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (status == 0)
        status = safetensors_writer_save(writer, path);
    safetensors_writer_free(writer);
    if (status != 0)
        return -1;

    if (extras && extras->optimizer) {
        writer = safetensors_writer_new();
        status = writer ? add_tensors(writer, model, extras->optimizer->m, "exp_avg.") : -1;
        if (status == 0)
            status = add_tensors(writer, model, extras->optimizer->v, "exp_avg_sq.");
        snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
        if (status == 0)
            status = safetensors_writer_save(writer, path);
        safetensors_writer_free(writer);
        if (status != 0)
            return -1;
    }
    if (extras && extras->tokenizer_path) {
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        if (copy_file(extras->tokenizer_path, path) != 0)
            return -1;
    }
    if (extras && extras->trainer_state_json) {
        snprintf(path, sizeof path, "%s/trainer_state.json", dir);
        if (write_text(path, extras->trainer_state_json) != 0)
            return -1;
    }
    return 0;
}

/* Creates the folders above `path` (like mkdir -p on its dirname). */
static int make_parents(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    for (char *slash = strchr(copy + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            log_error("%s: cannot create the folder: %s", copy, strerror(errno));
            free(copy);
            return -1;
        }
        *slash = '/';
    }
    free(copy);
    return 0;
}

int checkpoint_save(const char *folder, const model_t *model, const checkpoint_extras_t *extras)
{
    size_t length = strlen(folder) + 32;
    char *temp = malloc(length), *old = malloc(length);
    int status = -1;
    if (!temp || !old)
        goto done;
    snprintf(temp, length, "%s.tmp-%ld", folder, (long)getpid());
    snprintf(old, length, "%s.old-%ld", folder, (long)getpid());
    remove_tree(temp);
    if (make_parents(folder) != 0)
        goto done;
    if (mkdir(temp, 0755) != 0) {
        log_error("%s: cannot create the checkpoint folder: %s", temp, strerror(errno));
        goto done;
    }
    if (write_files(temp, model, extras) != 0) {
        remove_tree(temp);
        goto done;
    }
    /* Move an existing checkpoint aside, put the new one in place, then drop the old. */
    struct stat st;
    int had_old = stat(folder, &st) == 0;
    if (had_old && rename(folder, old) != 0) {
        log_error("%s: cannot replace the existing checkpoint: %s", folder, strerror(errno));
        remove_tree(temp);
        goto done;
    }
    if (rename(temp, folder) != 0) {
        log_error("%s: cannot rename %s into place: %s", folder, temp, strerror(errno));
        if (had_old)
            rename(old, folder);
        remove_tree(temp);
        goto done;
    }
    if (had_old)
        remove_tree(old);
    status = 0;
done:
    free(temp);
    free(old);
    return status;
}

static int read_int_field(json_t *root, const char *key, const char *path, int required,
                          int *out)
{
    json_t *value = json_object_get(root, key);
    if (!value || json_is_null(value)) {
        if (required)
            log_error("%s: missing integer field %s", path, key);
        return required ? -1 : 0;
    }
    if (!json_is_integer(value)) {
        log_error("%s: field %s must be an integer", path, key);
        return -1;
    }
    *out = (int)json_integer_value(value);
    return 0;
}

int checkpoint_load_config(const char *folder, model_config_t *config)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", folder);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    if (!root) {
        log_error("%s:%d: cannot read the model config: %s", path, error.line, error.text);
        return -1;
    }
    model_config_defaults(config);
    int status = -1;
    json_t *type = json_object_get(root, "model_type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "gpt2") != 0) {
        log_error("%s: model_type must be \"gpt2\" (other families are not supported yet)",
                  path);
        goto done;
    }
    json_t *act = json_object_get(root, "activation_function");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "gelu_new") != 0)) {
        log_error("%s: activation_function must be gelu_new (GELU, tanh approximation)", path);
        goto done;
    }
    int n_inner = 0;
    if (read_int_field(root, "n_layer", path, 1, &config->n_layer) != 0 ||
        read_int_field(root, "n_head", path, 1, &config->n_head) != 0 ||
        read_int_field(root, "n_embd", path, 1, &config->n_embd) != 0 ||
        read_int_field(root, "n_positions", path, 1, &config->n_ctx) != 0 ||
        read_int_field(root, "vocab_size", path, 1, &config->vocab_size) != 0 ||
        read_int_field(root, "n_inner", path, 0, &n_inner) != 0)
        goto done;
    if (n_inner != 0 && n_inner != 4 * config->n_embd) {
        log_error("%s: n_inner %d is not supported (only 4 * n_embd)", path, n_inner);
        goto done;
    }
    json_t *eps = json_object_get(root, "layer_norm_epsilon");
    if (json_is_number(eps))
        config->layer_norm_eps = (float)json_number_value(eps);
    json_t *tied = json_object_get(root, "tie_word_embeddings");
    if (json_is_false(tied)) {
        log_error("%s: untied output heads are not supported", path);
        goto done;
    }
    status = model_config_finish(config, path);
done:
    json_decref(root);
    return status;
}

/* Finds a tensor by its GPT-2 name, with or without the "transformer." prefix. */
static const safetensors_tensor_t *find_tensor(const safetensors_t *file, const char *name)
{
    const safetensors_tensor_t *t = safetensors_find(file, name);
    const char *prefix = "transformer.";
    if (!t && strncmp(name, prefix, strlen(prefix)) == 0)
        t = safetensors_find(file, name + strlen(prefix));
    return t;
}

/* Copies every slot from `file` (names prefix+slot) into `base`. */
static int load_tensors(const char *path, const safetensors_t *file, const model_t *model,
                        float *base, const char *prefix)
{
    int count = list_slots(model, NULL);
    tensor_slot_t *slots = calloc((size_t)count, sizeof *slots);
    float *buffer = NULL;
    int status = -1;
    if (!slots)
        return -1;
    list_slots(model, slots);
    for (int i = 0; i < count; i++) {
        const tensor_slot_t *s = &slots[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, s->name);
        const safetensors_tensor_t *t = find_tensor(file, name);
        if (!t) {
            log_error("%s: tensor %s is missing", path, name);
            goto done;
        }
        int64_t want0 = s->transposed ? s->cols : s->rows, want1 = s->transposed ? s->rows : s->cols;
        int shape_ok = s->cols == 1 ? (t->ndim == 1 && t->shape[0] == s->rows)
                                    : (t->ndim == 2 && t->shape[0] == want0 &&
                                       t->shape[1] == want1);
        if (!shape_ok) {
            log_error("%s: tensor %s has the wrong shape for this config (expected [%lld, %lld])",
                      path, name, (long long)want0, (long long)want1);
            goto done;
        }
        free(buffer);
        buffer = malloc((size_t)(s->rows * s->cols) * sizeof(float));
        if (!buffer || safetensors_to_f32(t, buffer) != 0)
            goto done;
        float *dst = base + s->offset;
        if (s->transposed) {
            for (int64_t r = 0; r < s->rows; r++)
                for (int64_t c = 0; c < s->cols; c++)
                    dst[r * s->cols + c] = buffer[c * s->rows + r];
        } else {
            memcpy(dst, buffer, (size_t)(s->rows * s->cols) * sizeof(float));
        }
    }
    status = 0;
done:
    free(buffer);
    free(slots);
    return status;
}

int checkpoint_load_model(const char *folder, model_t *model)
{
    model_config_t config;
    if (checkpoint_load_config(folder, &config) != 0 || model_init(model, &config) != 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    safetensors_t *file = safetensors_open(path);
    int status = file ? load_tensors(path, file, model, model->params, "") : -1;
    safetensors_close(file);
    if (status != 0)
        model_free(model);
    return status;
}

int checkpoint_load_optimizer(const char *folder, const model_t *model, optimizer_t *opt)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", folder);
    safetensors_t *file = safetensors_open(path);
    int status = file ? load_tensors(path, file, model, opt->m, "exp_avg.") : -1;
    if (status == 0)
        status = load_tensors(path, file, model, opt->v, "exp_avg_sq.");
    safetensors_close(file);
    return status;
}

char *checkpoint_read_trainer_state(const char *folder)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/trainer_state.json", folder);
    FILE *in = fopen(path, "rb");
    if (!in) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t capacity = 4096, length = 0, n;
    char *text = malloc(capacity);
    while (text && (n = fread(text + length, 1, capacity - length - 1, in)) > 0) {
        length += n;
        if (capacity - length < 2) {
            char *grown = realloc(text, capacity * 2);
            if (!grown) {
                free(text);
                text = NULL;
                break;
            }
            text = grown;
            capacity *= 2;
        }
    }
    fclose(in);
    if (text)
        text[length] = '\0';
    return text;
}

int checkpoint_find_latest(const char *parent, char **path, int64_t *step)
{
    DIR *dir = opendir(parent);
    if (!dir) {
        if (errno == ENOENT)
            return 0;
        log_error("%s: cannot list checkpoints: %s", parent, strerror(errno));
        return -1;
    }
    struct dirent *entry;
    long long best = -1;
    while ((entry = readdir(dir)) != NULL) {
        long long value;
        int consumed = 0;
        /* Only complete folders: step-NNNNNN with nothing after the digits. */
        if (sscanf(entry->d_name, "step-%lld%n", &value, &consumed) == 1 &&
            entry->d_name[consumed] == '\0' && value > best)
            best = value;
    }
    closedir(dir);
    if (best < 0)
        return 0;
    size_t length = strlen(parent) + 32;
    *path = malloc(length);
    if (!*path)
        return -1;
    snprintf(*path, length, "%s/step-%06lld", parent, best);
    *step = best;
    return 1;
}

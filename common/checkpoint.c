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

/* Llama names; the fused tensors qkv and fc are split into several stored
 * tensors (see list_slots). */
static const char *const llama_names[MODEL_N_TENSORS] = {
    [MODEL_WTE] = "model.embed_tokens.weight",
    [MODEL_LN1_W] = "model.layers.%d.input_layernorm.weight",
    [MODEL_ATTN_PROJ_W] = "model.layers.%d.self_attn.o_proj.weight",
    [MODEL_LN2_W] = "model.layers.%d.post_attention_layernorm.weight",
    [MODEL_FC_PROJ_W] = "model.layers.%d.mlp.down_proj.weight",
    [MODEL_LNF_W] = "model.norm.weight",
    [MODEL_LM_HEAD] = "lm_head.weight",
};

/* Where one stored tensor lives in the model and how it is laid out on disk. */
typedef struct {
    char name[96];
    int64_t offset;   /* into params (or m, v) */
    int64_t rows;     /* stored rows of the internal layout */
    int64_t cols;
    int transposed;   /* Conv1D: the file contains the (cols, rows) transpose */
} tensor_slot_t;

/* Appends a slot when `slots` is non-NULL; always counts it. */
static void add_slot(tensor_slot_t *slots, int *count, const char *name, int64_t offset,
                     int64_t rows, int64_t cols, int transposed)
{
    if (slots) {
        tensor_slot_t *s = &slots[*count];
        snprintf(s->name, sizeof s->name, "%s", name);
        s->offset = offset;
        s->rows = rows;
        s->cols = cols;
        s->transposed = transposed;
    }
    (*count)++;
}

/*
 * Llama: q_proj, k_proj, v_proj are the row blocks of qkv_w (and of qkv_b);
 * gate_proj and up_proj the row blocks of fc_w. The rotation pairs (i, i +
 * hs/2) of the Hugging Face layout are the pairs model.c rotates, so q and k
 * rows are stored as they are: the permutation that Meta's interleaved
 * checkpoints need was already applied by whoever converted them to this layout.
 */
static void list_llama_split(const model_t *model, tensor_slot_t *slots, int *count, int id,
                             int l)
{
    const model_config_t *cfg = &model->config;
    int64_t c = cfg->n_embd, hs = c / cfg->n_head;
    int64_t base = model->tensor_offset[id] + (int64_t)l * model->info[id].rows *
                                                  model->info[id].cols;
    char name[96];
    if (id == MODEL_QKV_W || id == MODEL_QKV_B) {
        const char *parts[3] = {"q_proj", "k_proj", "v_proj"};
        int64_t rows[3] = {cfg->n_head * hs, cfg->n_kv_head * hs, cfg->n_kv_head * hs};
        int64_t cols = id == MODEL_QKV_W ? c : 1, row = 0;
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "model.layers.%d.self_attn.%s.%s", l, parts[i],
                     id == MODEL_QKV_W ? "weight" : "bias");
            add_slot(slots, count, name, base + row * cols, rows[i], cols, 0);
            row += rows[i];
        }
    } else { /* MODEL_FC_W */
        int64_t inter = cfg->intermediate_size;
        snprintf(name, sizeof name, "model.layers.%d.mlp.gate_proj.weight", l);
        add_slot(slots, count, name, base, inter, c, 0);
        snprintf(name, sizeof name, "model.layers.%d.mlp.up_proj.weight", l);
        add_slot(slots, count, name, base + inter * c, inter, c, 0);
    }
}

/* Returns the number of slots; fills `slots` (sized by slot_count) when non-NULL.
 * Tensors the family does not have (zero rows) have no slot. */
static int list_slots(const model_t *model, tensor_slot_t *slots)
{
    int count = 0;
    int llama = model->config.family == MODEL_FAMILY_LLAMA;
    for (int id = 0; id < MODEL_N_TENSORS; id++) {
        const model_tensor_info_t *info = &model->info[id];
        if (info->rows == 0)
            continue;
        int layers = info->per_layer ? model->config.n_layer : 1;
        for (int l = 0; l < layers; l++) {
            if (llama && (id == MODEL_QKV_W || id == MODEL_QKV_B || id == MODEL_FC_W)) {
                list_llama_split(model, slots, &count, id, l);
                continue;
            }
            /* GPT-2 always ties its head to wte (model_config rejects an
             * untied one), so hf_names has no lm_head entry to store. */
            const char *format = llama ? llama_names[id] : hf_names[id];
            if (!format)
                continue;
            char name[96];
            snprintf(name, sizeof name, format, l);
            int vocab_rows = id == MODEL_WTE || id == MODEL_LM_HEAD;
            add_slot(slots, &count, name,
                     model->tensor_offset[id] + (int64_t)l * info->rows * info->cols,
                     vocab_rows ? model->config.vocab_size : info->rows, info->cols,
                     !llama && info->per_layer && info->is_matrix);
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

/* Builds the config.json object of a Llama-family model: LlamaForCausalLM, or
 * Qwen2ForCausalLM when q, k, v have biases (Llama's attention_bias would also
 * give o_proj a bias, which the model does not have). */
static json_t *llama_config_json(const model_config_t *cfg)
{
    int qwen = cfg->attention_bias;
    json_t *root = json_pack(
        "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:s, s:f, s:b, s:f, "
        "s:s, s:b}",
        "architectures", qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM", "model_type",
        qwen ? "qwen2" : "llama", "vocab_size", cfg->vocab_size, "hidden_size", cfg->n_embd,
        "intermediate_size", cfg->intermediate_size, "num_hidden_layers", cfg->n_layer,
        "num_attention_heads", cfg->n_head, "num_key_value_heads", cfg->n_kv_head,
        "max_position_embeddings", cfg->n_ctx, "head_dim", cfg->n_embd / cfg->n_head,
        "rms_norm_eps", (double)cfg->rms_norm_eps, "rope_theta", (double)cfg->rope_theta,
        "hidden_act", "silu", "initializer_range", (double)cfg->init_std,
        "tie_word_embeddings", cfg->tie_word_embeddings, "attention_dropout", 0.0,
        "torch_dtype", "float32", "use_cache", 1);
    if (!root)
        return NULL;
    if (!qwen) {
        json_object_set_new(root, "attention_bias", json_false());
        json_object_set_new(root, "mlp_bias", json_false());
    }
    if (cfg->rope_scaling_factor != 0.0f) {
        json_object_set_new(
            root, "rope_scaling",
            json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor",
                      (double)cfg->rope_scaling_factor, "low_freq_factor",
                      (double)cfg->rope_low_freq_factor, "high_freq_factor",
                      (double)cfg->rope_high_freq_factor, "original_max_position_embeddings",
                      cfg->rope_original_max_position));
    } else {
        json_object_set_new(root, "rope_scaling", json_null());
    }
    return root;
}

static int write_config_json(const char *path, const model_t *model, int64_t eos_token_id)
{
    const model_config_t *cfg = &model->config;
    json_t *root;
    if (cfg->family == MODEL_FAMILY_LLAMA)
        root = llama_config_json(cfg);
    else
        root = json_pack(
            "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:n, s:s, s:f, s:f, s:f, s:f, s:f, "
            "s:b, s:s, s:b, s:b}",
            "architectures", "GPT2LMHeadModel", "model_type", "gpt2", "vocab_size",
            cfg->vocab_size, "n_positions", cfg->n_ctx, "n_ctx", cfg->n_ctx, "n_embd",
            cfg->n_embd, "n_layer", cfg->n_layer, "n_head", cfg->n_head, "n_inner",
            "activation_function", "gelu_new", "resid_pdrop", 0.0, "embd_pdrop", 0.0,
            "attn_pdrop", 0.0, "layer_norm_epsilon", (double)cfg->layer_norm_eps,
            "initializer_range", (double)cfg->init_std, "tie_word_embeddings", 1,
            "torch_dtype", "float32", "scale_attn_weights", 1, "use_cache", 1);
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

static float read_float_field(json_t *root, const char *key, float fallback)
{
    json_t *value = json_object_get(root, key);
    return json_is_number(value) ? (float)json_number_value(value) : fallback;
}

/* Reads the fields of a llama or qwen2 config.json. Returns 0 or -1 after logging. */
static int load_llama_config(json_t *root, const char *path, int qwen, model_config_t *config)
{
    config->family = MODEL_FAMILY_LLAMA;
    json_t *act = json_object_get(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0)) {
        log_error("%s: hidden_act must be silu (SwiGLU)", path);
        return -1;
    }
    int head_dim = 0;
    if (read_int_field(root, "num_hidden_layers", path, 1, &config->n_layer) != 0 ||
        read_int_field(root, "num_attention_heads", path, 1, &config->n_head) != 0 ||
        read_int_field(root, "hidden_size", path, 1, &config->n_embd) != 0 ||
        read_int_field(root, "max_position_embeddings", path, 1, &config->n_ctx) != 0 ||
        read_int_field(root, "vocab_size", path, 1, &config->vocab_size) != 0 ||
        read_int_field(root, "intermediate_size", path, 1, &config->intermediate_size) != 0 ||
        read_int_field(root, "num_key_value_heads", path, 0, &config->n_kv_head) != 0 ||
        read_int_field(root, "head_dim", path, 0, &head_dim) != 0)
        return -1;
    if (head_dim != 0 && config->n_head > 0 && head_dim * config->n_head != config->n_embd) {
        log_error("%s: head_dim %d times num_attention_heads %d differs from hidden_size %d; "
                  "only head_dim = hidden_size / num_attention_heads is supported",
                  path, head_dim, config->n_head, config->n_embd);
        return -1;
    }
    config->rms_norm_eps = read_float_field(root, "rms_norm_eps", 1e-6f);
    config->rope_theta = read_float_field(root, "rope_theta", 10000.0f);
    config->init_std = read_float_field(root, "initializer_range", 0.02f);
    /* transformers ties the head by default when the key is absent */
    config->tie_word_embeddings = !json_is_false(json_object_get(root, "tie_word_embeddings"));
    config->attention_bias = qwen;
    if (!qwen && json_is_true(json_object_get(root, "attention_bias"))) {
        log_error("%s: attention_bias gives o_proj a bias too, which is not supported; "
                  "q, k, v biases alone are read from qwen2 configs",
                  path);
        return -1;
    }
    if (json_is_true(json_object_get(root, "mlp_bias"))) {
        log_error("%s: mlp_bias is not supported", path);
        return -1;
    }
    /* Older files name the scaling rope_scaling beside rope_theta; newer ones
     * keep both in rope_parameters, whose rope_type "default" means no scaling. */
    json_t *scaling = json_object_get(root, "rope_scaling");
    json_t *parameters = json_object_get(root, "rope_parameters");
    if (json_is_object(parameters)) {
        config->rope_theta = read_float_field(parameters, "rope_theta", config->rope_theta);
        json_t *kind = json_object_get(parameters, "rope_type");
        if (!(json_is_string(kind) && strcmp(json_string_value(kind), "default") == 0))
            scaling = parameters;
    }
    if (scaling && !json_is_null(scaling)) {
        json_t *type = json_object_get(scaling, "rope_type");
        if (!type)
            type = json_object_get(scaling, "type");
        if (!json_is_string(type) || strcmp(json_string_value(type), "llama3") != 0) {
            log_error("%s: rope_scaling of type %s is not supported (only llama3)", path,
                      json_is_string(type) ? json_string_value(type) : "(none)");
            return -1;
        }
        config->rope_scaling_factor = read_float_field(scaling, "factor", 0.0f);
        config->rope_low_freq_factor = read_float_field(scaling, "low_freq_factor", 1.0f);
        config->rope_high_freq_factor = read_float_field(scaling, "high_freq_factor", 4.0f);
        if (read_int_field(scaling, "original_max_position_embeddings", path, 1,
                           &config->rope_original_max_position) != 0)
            return -1;
    }
    return 0;
}

/* Reads the fields of a gpt2 config.json. Returns 0 or -1 after logging. */
static int load_gpt2_config(json_t *root, const char *path, model_config_t *config)
{
    json_t *act = json_object_get(root, "activation_function");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "gelu_new") != 0)) {
        log_error("%s: activation_function must be gelu_new (GELU, tanh approximation)", path);
        return -1;
    }
    int n_inner = 0;
    if (read_int_field(root, "n_layer", path, 1, &config->n_layer) != 0 ||
        read_int_field(root, "n_head", path, 1, &config->n_head) != 0 ||
        read_int_field(root, "n_embd", path, 1, &config->n_embd) != 0 ||
        read_int_field(root, "n_positions", path, 1, &config->n_ctx) != 0 ||
        read_int_field(root, "vocab_size", path, 1, &config->vocab_size) != 0 ||
        read_int_field(root, "n_inner", path, 0, &n_inner) != 0)
        return -1;
    if (n_inner != 0 && n_inner != 4 * config->n_embd) {
        log_error("%s: n_inner %d is not supported (only 4 * n_embd)", path, n_inner);
        return -1;
    }
    config->layer_norm_eps = read_float_field(root, "layer_norm_epsilon", 1e-5f);
    if (json_is_false(json_object_get(root, "tie_word_embeddings"))) {
        log_error("%s: GPT-2 with an untied output head is not supported", path);
        return -1;
    }
    return 0;
}

int checkpoint_load_config(const char *folder, model_config_t *config)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", folder);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    if (!root) {
        char final_path[4200];
        snprintf(final_path, sizeof final_path, "%s/final/config.json", folder);
        if (access(path, F_OK) != 0 && access(final_path, F_OK) == 0)
            log_error("%s: not found; %s is a training run, so pass its checkpoint %s/final",
                      path, folder, folder);
        else if (access(path, F_OK) != 0)
            log_error("%s: not found; pass a checkpoint folder (config.json, "
                      "model.safetensors, tokenizer.json)", path);
        else
            log_error("%s:%d: invalid model config: %s", path, error.line, error.text);
        return -1;
    }
    model_config_defaults(config);
    int status = -1;
    json_t *type = json_object_get(root, "model_type");
    const char *name = json_is_string(type) ? json_string_value(type) : "";
    int loaded;
    if (strcmp(name, "gpt2") == 0) {
        loaded = load_gpt2_config(root, path, config);
    } else if (strcmp(name, "llama") == 0 || strcmp(name, "qwen2") == 0) {
        loaded = load_llama_config(root, path, strcmp(name, "qwen2") == 0, config);
    } else {
        log_error("%s: model_type \"%s\" is not supported; use gpt2, llama or qwen2", path,
                  name);
        loaded = -1;
    }
    if (loaded == 0)
        status = model_config_finish(config, path);
    json_decref(root);
    return status;
}

/* The safetensors files of one model: a single file or the shards of an index. */
typedef struct {
    safetensors_t **files;
    int count;
    char *label; /* names the file or index in messages */
} tensor_source_t;

static void source_close(tensor_source_t *source)
{
    for (int i = 0; i < source->count; i++)
        safetensors_close(source->files[i]);
    free(source->files);
    free(source->label);
    memset(source, 0, sizeof *source);
}

/* Opens model.safetensors of `folder`, or when it is absent the shards that
 * model.safetensors.index.json names in its weight_map. Returns 0 or -1 after
 * logging. */
static int source_open_model(const char *folder, tensor_source_t *source)
{
    char path[4096];
    memset(source, 0, sizeof *source);
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    struct stat st;
    if (stat(path, &st) == 0) {
        source->files = calloc(1, sizeof *source->files);
        source->label = strdup(path);
        if (!source->files || !source->label)
            return -1;
        source->files[0] = safetensors_open(path);
        source->count = source->files[0] ? 1 : 0;
        return source->count == 1 ? 0 : -1;
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", folder);
    json_error_t error;
    json_t *index = json_load_file(path, 0, &error);
    if (!index) {
        log_error("%s/model.safetensors: missing, and no readable model.safetensors.index.json "
                  "(%s); the checkpoint folder is incomplete",
                  folder, error.text);
        return -1;
    }
    source->label = strdup(path);
    json_t *map = json_object_get(index, "weight_map");
    int status = json_is_object(map) && source->label ? 0 : -1;
    if (status != 0)
        log_error("%s: weight_map must map tensor names to shard file names", path);
    const char *key;
    json_t *value;
    json_object_foreach(map, key, value)
    {
        const char *shard = json_is_string(value) ? json_string_value(value) : NULL;
        if (status != 0)
            break;
        /* Shards are plain names inside the folder: nothing may point outside it. */
        if (!shard || !*shard || strchr(shard, '/') || strcmp(shard, "..") == 0) {
            log_error("%s: tensor %s maps to an invalid shard name", path, key);
            status = -1;
            break;
        }
    }
    /* Collect the distinct shard names, then open each once. */
    const char **names = calloc(json_object_size(map) + 1, sizeof *names);
    int n_names = 0;
    if (!names)
        status = -1;
    json_object_foreach(map, key, value)
    {
        if (status != 0)
            break;
        const char *shard = json_string_value(value);
        int seen = 0;
        for (int i = 0; i < n_names && !seen; i++)
            seen = strcmp(names[i], shard) == 0;
        if (!seen)
            names[n_names++] = shard;
    }
    if (status == 0) {
        source->files = calloc((size_t)n_names + 1, sizeof *source->files);
        status = source->files ? 0 : -1;
    }
    for (int i = 0; i < n_names && status == 0; i++) {
        char shard_path[4096];
        snprintf(shard_path, sizeof shard_path, "%s/%s", folder, names[i]);
        source->files[i] = safetensors_open(shard_path);
        if (!source->files[i])
            status = -1;
        else
            source->count++;
    }
    free(names);
    json_decref(index);
    return status;
}

/* Finds a tensor in any file of the source, GPT-2 names with or without the
 * "transformer." prefix. */
static const safetensors_tensor_t *find_tensor(const tensor_source_t *source, const char *name)
{
    const char *prefix = "transformer.";
    for (int i = 0; i < source->count; i++) {
        const safetensors_tensor_t *t = safetensors_find(source->files[i], name);
        if (!t && strncmp(name, prefix, strlen(prefix)) == 0)
            t = safetensors_find(source->files[i], name + strlen(prefix));
        if (t)
            return t;
    }
    return NULL;
}

/* Copies every slot from `source` (names prefix+slot) into `base`. */
static int load_tensors(const tensor_source_t *source, const model_t *model, float *base,
                        const char *prefix)
{
    const char *path = source->label;
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
        const safetensors_tensor_t *t = find_tensor(source, name);
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
    tensor_source_t source;
    int status = source_open_model(folder, &source);
    if (status == 0)
        status = load_tensors(&source, model, model->params, "");
    source_close(&source);
    if (status != 0)
        model_free(model);
    return status;
}

int checkpoint_load_optimizer(const char *folder, const model_t *model, optimizer_t *opt)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", folder);
    safetensors_t *file = safetensors_open(path);
    tensor_source_t source = {.files = &file, .count = file ? 1 : 0, .label = path};
    int status = file ? load_tensors(&source, model, opt->m, "exp_avg.") : -1;
    if (status == 0)
        status = load_tensors(&source, model, opt->v, "exp_avg_sq.");
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

static int compare_steps(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

int checkpoint_prune(const char *parent, int64_t keep_last, int64_t keep_every)
{
    if (keep_last <= 0)
        return 0;
    DIR *dir = opendir(parent);
    if (!dir) {
        log_error("%s: cannot list checkpoints: %s", parent, strerror(errno));
        return -1;
    }
    size_t count = 0, capacity = 16;
    long long *steps = malloc(capacity * sizeof *steps);
    struct dirent *entry;
    while (steps && (entry = readdir(dir)) != NULL) {
        long long value;
        int consumed = 0;
        if (sscanf(entry->d_name, "step-%lld%n", &value, &consumed) != 1 ||
            entry->d_name[consumed] != '\0')
            continue;
        if (count == capacity) {
            long long *grown = realloc(steps, 2 * capacity * sizeof *steps);
            if (!grown) {
                free(steps);
                steps = NULL;
                break;
            }
            steps = grown;
            capacity *= 2;
        }
        steps[count++] = value;
    }
    closedir(dir);
    if (!steps) {
        log_error("%s: out of memory listing checkpoints", parent);
        return -1;
    }
    qsort(steps, count, sizeof *steps, compare_steps);
    for (size_t i = 0; i + (size_t)keep_last < count; i++) {
        if (keep_every > 0 && steps[i] % keep_every == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/step-%06lld", parent, steps[i]);
        remove_tree(path);
    }
    free(steps);
    return 0;
}

/*
 * GPT-2 and Llama forward, backward and decoding over kernels.h (see model.h).
 *
 * Activations are planned once for (B, T): one allocation holds every tensor
 * the backward needs, per layer. The backward reuses a small set of per-layer
 * gradient buffers, walking the layers in reverse while one buffer carries
 * the gradient of the residual stream.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "log.h"

struct model_activations {
    int64_t capacity; /* B * T rows the buffers were planned for */
    int b, t;         /* shape of the last forward */
    bool has_targets;
    bool logits_valid; /* false once a backward has overwritten them */
    float *memory;
    float *encoded;   /* (B, T, C) */
    float *ln1;       /* (L, B, T, C) */
    float *ln1_mean;  /* (L, B, T) */
    float *ln1_rstd;  /* (L, B, T) */
    float *qkv;       /* (L, B, T, QKV), after RoPE for Llama */
    float *atty;      /* (L, B, T, C) */
    float *att_lse;   /* (L, B, NH, T) */
    float *residual2; /* (L, B, T, C) */
    float *ln2;       /* (L, B, T, C) */
    float *ln2_mean;  /* (L, B, T) */
    float *ln2_rstd;  /* (L, B, T) */
    float *fch;       /* (L, B, T, 4C), Llama (L, B, T, 2I): gate and up */
    float *fch_gelu;  /* (L, B, T, 4C), Llama (L, B, T, I): the SwiGLU output */
    float *residual3; /* (L, B, T, C) */
    float *lnf;       /* (B, T, C) */
    float *lnf_mean;  /* (B, T) */
    float *lnf_rstd;  /* (B, T) */
    float *logits;    /* (B, T, Vp) */
    float *losses;    /* (B, T) */
    float *lse;       /* (B, T) */
    int32_t *inputs;  /* (B, T) */
    int32_t *targets; /* (B, T) */
    /* Backward scratch, allocated by the first backward. */
    float *grad_memory;
    float *dresidual; /* (B, T, C) */
    float *dln;       /* (B, T, C) */
    float *datty;     /* (B, T, C) */
    float *dqkv;      /* (B, T, QKV) */
    float *dfch;      /* (B, T, 4C), Llama (B, T, 2I) */
    float *dhidden;   /* Llama (B, T, I): gradient of the SwiGLU output */
};

/* Widths of the per-row activations of a config. */
typedef struct {
    int64_t c, hs, qkv, ffn_in, ffn_hidden;
    int nh, kv;
    bool llama;
} widths_t;

static widths_t widths_of(const model_config_t *cfg)
{
    widths_t w;
    w.llama = cfg->family == MODEL_FAMILY_LLAMA;
    w.c = cfg->n_embd;
    w.nh = cfg->n_head;
    w.kv = w.llama ? cfg->n_kv_head : cfg->n_head;
    w.hs = w.c / w.nh;
    w.qkv = (w.nh + 2 * (int64_t)w.kv) * w.hs;
    w.ffn_in = w.llama ? 2 * (int64_t)cfg->intermediate_size : 4 * w.c;
    w.ffn_hidden = w.llama ? cfg->intermediate_size : 4 * w.c;
    return w;
}

/* Calls a kernel and turns a failure into a logged -1 return. */
#define KERNEL(call)                                                           \
    do {                                                                       \
        int kernel_status_ = (call);                                           \
        if (kernel_status_ != KERNELS_OK) {                                    \
            log_error("%s:%d: %s failed: %s", __FILE__, __LINE__, #call,       \
                      kernels_strerror(kernel_status_));                       \
            return -1;                                                         \
        }                                                                      \
    } while (0)

static void describe_tensors(model_t *model)
{
    const model_config_t *cfg = &model->config;
    widths_t w = widths_of(cfg);
    int c = cfg->n_embd, vp = cfg->padded_vocab_size;
    model_tensor_info_t info[MODEL_N_TENSORS] = {
        [MODEL_WTE] = {"wte", false, true, vp, c},
        [MODEL_WPE] = {"wpe", false, true, cfg->n_ctx, c},
        [MODEL_LN1_W] = {"ln1_w", true, false, c, 1},
        [MODEL_LN1_B] = {"ln1_b", true, false, c, 1},
        [MODEL_QKV_W] = {"qkv_w", true, true, (int)w.qkv, c},
        [MODEL_QKV_B] = {"qkv_b", true, false, (int)w.qkv, 1},
        [MODEL_ATTN_PROJ_W] = {"attn_proj_w", true, true, c, c},
        [MODEL_ATTN_PROJ_B] = {"attn_proj_b", true, false, c, 1},
        [MODEL_LN2_W] = {"ln2_w", true, false, c, 1},
        [MODEL_LN2_B] = {"ln2_b", true, false, c, 1},
        [MODEL_FC_W] = {"fc_w", true, true, (int)w.ffn_in, c},
        [MODEL_FC_B] = {"fc_b", true, false, (int)w.ffn_in, 1},
        [MODEL_FC_PROJ_W] = {"fc_proj_w", true, true, c, (int)w.ffn_hidden},
        [MODEL_FC_PROJ_B] = {"fc_proj_b", true, false, c, 1},
        [MODEL_LNF_W] = {"lnf_w", false, false, c, 1},
        [MODEL_LNF_B] = {"lnf_b", false, false, c, 1},
        [MODEL_LM_HEAD] = {"lm_head", false, true, 0, c},
    };
    if (w.llama) {
        /* Tensors Llama does not have keep their name with zero rows. */
        int absent[] = {MODEL_WPE,    MODEL_LN1_B,     MODEL_ATTN_PROJ_B, MODEL_LN2_B,
                        MODEL_FC_B,   MODEL_FC_PROJ_B, MODEL_LNF_B};
        for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
            info[absent[i]].rows = 0;
        if (!cfg->attention_bias)
            info[MODEL_QKV_B].rows = 0;
        if (!cfg->tie_word_embeddings)
            info[MODEL_LM_HEAD].rows = vp;
    }
    int64_t offset = 0;
    for (int i = 0; i < MODEL_N_TENSORS; i++) {
        model->info[i] = info[i];
        int64_t per_layer = (int64_t)info[i].rows * info[i].cols;
        model->tensor_offset[i] = offset;
        model->tensor_size[i] = per_layer * (info[i].per_layer ? model->config.n_layer : 1);
        offset += model->tensor_size[i];
    }
    model->param_count = offset;
}

int model_init(model_t *model, const model_config_t *config)
{
    memset(model, 0, sizeof *model);
    model->config = *config;
    describe_tensors(model);
    model->params = calloc((size_t)model->param_count, sizeof(float));
    if (!model->params) {
        log_error("cannot allocate %lld parameters (%.1f MiB)", (long long)model->param_count,
                  model->param_count * 4.0 / 1048576.0);
        return -1;
    }
    if (config->family == MODEL_FAMILY_LLAMA) {
        int hs = config->n_embd / config->n_head;
        model->rope_inv_freq = malloc((size_t)(hs / 2) * sizeof(float));
        if (!model->rope_inv_freq) {
            log_error("cannot allocate the RoPE table");
            free(model->params);
            model->params = NULL;
            return -1;
        }
        model_config_rope_frequencies(config, model->rope_inv_freq);
    }
    return 0;
}

int model_head_tensor(const model_t *model)
{
    return model->info[MODEL_LM_HEAD].rows > 0 ? MODEL_LM_HEAD : MODEL_WTE;
}

float *model_tensor(const model_t *model, float *base, int id, int layer)
{
    int64_t per_layer = (int64_t)model->info[id].rows * model->info[id].cols;
    return base + model->tensor_offset[id] + (model->info[id].per_layer ? layer * per_layer : 0);
}

/* splitmix64: a small, well-mixed generator for reproducible initialization. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Returns a standard normal sample (Box-Muller). */
static double next_normal(uint64_t *state)
{
    double u1 = ((next_random(state) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double u2 = (next_random(state) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void model_init_random(model_t *model, uint64_t seed)
{
    const model_config_t *cfg = &model->config;
    uint64_t state = seed;
    double residual_std = cfg->init_std / sqrt(2.0 * cfg->n_layer);
    memset(model->params, 0, (size_t)model->param_count * sizeof(float));

    for (int id = 0; id < MODEL_N_TENSORS; id++) {
        float *p = model->params + model->tensor_offset[id];
        int64_t n = model->tensor_size[id];
        const model_tensor_info_t *info = &model->info[id];
        if (info->is_matrix) {
            double std = (id == MODEL_ATTN_PROJ_W || id == MODEL_FC_PROJ_W) ? residual_std
                                                                             : cfg->init_std;
            for (int64_t i = 0; i < n; i++)
                p[i] = (float)(next_normal(&state) * std);
        } else if (id == MODEL_LN1_W || id == MODEL_LN2_W || id == MODEL_LNF_W) {
            /* normalization weights start at 1 in both families */
            for (int64_t i = 0; i < n; i++)
                p[i] = 1.0f;
        }
    }
    /* Padded vocabulary rows are never looked up nor scored: keep them zero. */
    int64_t c = cfg->n_embd;
    int vocab_tensors[] = {MODEL_WTE, MODEL_LM_HEAD};
    for (int i = 0; i < 2; i++) {
        if (model->info[vocab_tensors[i]].rows == 0)
            continue;
        float *rows = model->params + model->tensor_offset[vocab_tensors[i]];
        memset(rows + (int64_t)cfg->vocab_size * c, 0,
               (size_t)((cfg->padded_vocab_size - cfg->vocab_size) * c) * sizeof(float));
    }
}

int model_alloc_grads(model_t *model)
{
    if (model->grads)
        return 0;
    model->grads = calloc((size_t)model->param_count, sizeof(float));
    if (!model->grads) {
        log_error("cannot allocate gradients for %lld parameters",
                  (long long)model->param_count);
        return -1;
    }
    return 0;
}

void model_zero_grads(model_t *model)
{
    if (model->grads)
        memset(model->grads, 0, (size_t)model->param_count * sizeof(float));
}

/* Plans (or grows) the activation buffers for n = B * T rows. */
static int plan_activations(model_t *model, int64_t n)
{
    model_activations_t *a = model->acts;
    if (a && a->capacity >= n)
        return 0;
    if (a) {
        free(a->memory);
        free(a->grad_memory);
        free(a->inputs);
        free(a->targets);
        free(a);
    }
    a = calloc(1, sizeof *a);
    model->acts = a;
    if (!a)
        goto fail;

    const model_config_t *cfg = &model->config;
    widths_t w = widths_of(cfg);
    int64_t c = cfg->n_embd, l = cfg->n_layer, nh = cfg->n_head, vp = cfg->padded_vocab_size;
    struct {
        float **field;
        int64_t count;
    } plan[] = {
        {&a->encoded, n * c},      {&a->ln1, l * n * c},       {&a->ln1_mean, l * n},
        {&a->ln1_rstd, l * n},     {&a->qkv, l * n * w.qkv},   {&a->atty, l * n * c},
        {&a->att_lse, l * nh * n}, {&a->residual2, l * n * c}, {&a->ln2, l * n * c},
        {&a->ln2_mean, l * n},     {&a->ln2_rstd, l * n},      {&a->fch, l * n * w.ffn_in},
        {&a->fch_gelu, l * n * w.ffn_hidden}, {&a->residual3, l * n * c}, {&a->lnf, n * c},
        {&a->lnf_mean, n},         {&a->lnf_rstd, n},          {&a->logits, n * vp},
        {&a->losses, n},           {&a->lse, n},
    };
    int64_t total = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++)
        total += plan[i].count;
    a->memory = malloc((size_t)total * sizeof(float));
    a->inputs = malloc((size_t)n * sizeof(int32_t));
    a->targets = malloc((size_t)n * sizeof(int32_t));
    if (!a->memory || !a->inputs || !a->targets)
        goto fail;
    float *cursor = a->memory;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        *plan[i].field = cursor;
        cursor += plan[i].count;
    }
    a->capacity = n;
    log_debug("planned %.1f MiB of activations for %lld positions", total * 4.0 / 1048576.0,
              (long long)n);
    return 0;

fail:
    log_error("cannot allocate activations for %lld positions; lower the batch size or "
              "sequence length",
              (long long)n);
    if (a) {
        free(a->memory);
        free(a->inputs);
        free(a->targets);
        free(a);
    }
    model->acts = NULL;
    return -1;
}

/* Sets *view to the bias `id` of layer l and returns it, or NULL when the
 * family has no such bias. */
static tensor_t *bias_view(const model_t *model, float *base, int id, int l, tensor_t *view)
{
    if (model->info[id].rows == 0)
        return NULL;
    *view = TENSOR_1D(model_tensor(model, base, id, l), model->info[id].rows);
    return view;
}

/* LayerNorm (GPT-2) or RMSNorm (Llama) of in (N, C) with the weight (and
 * bias) tensors w_id, b_id of layer l; mean and rstd may be NULL. */
static int norm_forward(const model_t *model, float *out, float *mean, float *rstd,
                        const float *in, int w_id, int b_id, int l, int64_t n)
{
    const model_config_t *cfg = &model->config;
    int64_t c = cfg->n_embd;
    float *p = model->params;
    tensor_t t_out = TENSOR_2D(out, n, c), t_in = TENSOR_2D((float *)in, n, c);
    tensor_t t_w = TENSOR_1D(model_tensor(model, p, w_id, l), c);
    tensor_t t_mean = TENSOR_1D(mean, n), t_rstd = TENSOR_1D(rstd, n);
    if (cfg->family == MODEL_FAMILY_LLAMA) {
        KERNEL(kernels_rmsnorm_forward(&t_out, rstd ? &t_rstd : NULL, &t_in, &t_w,
                                       cfg->rms_norm_eps));
    } else {
        tensor_t t_b = TENSOR_1D(model_tensor(model, p, b_id, l), c);
        KERNEL(kernels_layernorm_forward(&t_out, mean ? &t_mean : NULL, rstd ? &t_rstd : NULL,
                                         &t_in, &t_w, &t_b, cfg->layer_norm_eps));
    }
    return 0;
}

/* Backward of norm_forward: din (N, C) += the input gradient. */
static int norm_backward(const model_t *model, float *din, const float *dout, const float *in,
                         const float *mean, const float *rstd, int w_id, int b_id, int l,
                         int64_t n)
{
    const model_config_t *cfg = &model->config;
    int64_t c = cfg->n_embd;
    float *p = model->params, *g = model->grads;
    tensor_t t_din = TENSOR_2D(din, n, c), t_dout = TENSOR_2D((float *)dout, n, c);
    tensor_t t_in = TENSOR_2D((float *)in, n, c);
    tensor_t t_w = TENSOR_1D(model_tensor(model, p, w_id, l), c);
    tensor_t t_dw = TENSOR_1D(model_tensor(model, g, w_id, l), c);
    tensor_t t_rstd = TENSOR_1D((float *)rstd, n);
    if (cfg->family == MODEL_FAMILY_LLAMA) {
        KERNEL(kernels_rmsnorm_backward(&t_din, &t_dw, &t_dout, &t_in, &t_w, &t_rstd));
    } else {
        tensor_t t_db = TENSOR_1D(model_tensor(model, g, b_id, l), c);
        tensor_t t_mean = TENSOR_1D((float *)mean, n);
        KERNEL(kernels_layernorm_backward(&t_din, &t_dw, &t_db, &t_dout, &t_in, &t_w, &t_mean,
                                          &t_rstd));
    }
    return 0;
}

/* Runs layer `l` of the forward pass on rows of `residual`. */
static int forward_layer(model_t *model, int l, const float *residual, int b, int t)
{
    const model_config_t *cfg = &model->config;
    model_activations_t *a = model->acts;
    widths_t w = widths_of(cfg);
    int64_t n = (int64_t)b * t, c = cfg->n_embd, nh = cfg->n_head;
    float *p = model->params;
    tensor_t bias;

    tensor_t in = TENSOR_2D((float *)residual, n, c);
    tensor_t ln1 = TENSOR_2D(a->ln1 + l * n * c, n, c);
    if (norm_forward(model, a->ln1 + l * n * c, a->ln1_mean + l * n, a->ln1_rstd + l * n,
                     residual, MODEL_LN1_W, MODEL_LN1_B, l, n) != 0)
        return -1;

    tensor_t qkv = TENSOR_3D(a->qkv + l * n * w.qkv, b, t, w.qkv);
    tensor_t qkv_w = TENSOR_2D(model_tensor(model, p, MODEL_QKV_W, l), w.qkv, c);
    KERNEL(kernels_matmul_forward(&qkv, &ln1, &qkv_w, bias_view(model, p, MODEL_QKV_B, l, &bias)));

    tensor_t atty = TENSOR_3D(a->atty + l * n * c, b, t, c);
    tensor_t lse = TENSOR_3D(a->att_lse + l * nh * n, b, nh, t);
    if (w.llama) {
        tensor_t freqs = TENSOR_1D(model->rope_inv_freq, w.hs / 2);
        KERNEL(kernels_rope_forward(&qkv, &freqs, w.nh, w.kv, 0));
        KERNEL(kernels_attention_gqa_forward(&atty, &lse, &qkv, w.nh, w.kv));
    } else {
        KERNEL(kernels_attention_forward(&atty, &lse, &qkv, (int)nh));
    }

    /* residual2 = atty @ attn_proj_w^T + attn_proj_b + residual */
    tensor_t res2 = TENSOR_2D(a->residual2 + l * n * c, n, c);
    tensor_t proj_w = TENSOR_2D(model_tensor(model, p, MODEL_ATTN_PROJ_W, l), c, c);
    KERNEL(kernels_matmul_forward(&res2, &atty, &proj_w,
                                  bias_view(model, p, MODEL_ATTN_PROJ_B, l, &bias)));
    KERNEL(kernels_add(&res2, &res2, &in));

    tensor_t ln2 = TENSOR_2D(a->ln2 + l * n * c, n, c);
    if (norm_forward(model, a->ln2 + l * n * c, a->ln2_mean + l * n, a->ln2_rstd + l * n,
                     a->residual2 + l * n * c, MODEL_LN2_W, MODEL_LN2_B, l, n) != 0)
        return -1;

    tensor_t fch = TENSOR_2D(a->fch + l * n * w.ffn_in, n, w.ffn_in);
    tensor_t fch_gelu = TENSOR_2D(a->fch_gelu + l * n * w.ffn_hidden, n, w.ffn_hidden);
    tensor_t fc_w = TENSOR_2D(model_tensor(model, p, MODEL_FC_W, l), w.ffn_in, c);
    KERNEL(kernels_matmul_forward(&fch, &ln2, &fc_w, bias_view(model, p, MODEL_FC_B, l, &bias)));
    if (w.llama)
        KERNEL(kernels_swiglu_forward(&fch_gelu, &fch));
    else
        KERNEL(kernels_gelu_forward(&fch_gelu, &fch));

    tensor_t res3 = TENSOR_2D(a->residual3 + l * n * c, n, c);
    tensor_t fc_proj_w = TENSOR_2D(model_tensor(model, p, MODEL_FC_PROJ_W, l), c, w.ffn_hidden);
    KERNEL(kernels_matmul_forward(&res3, &fch_gelu, &fc_proj_w,
                                  bias_view(model, p, MODEL_FC_PROJ_B, l, &bias)));
    KERNEL(kernels_add(&res3, &res3, &res2));
    return 0;
}

/* Computes the per-token losses and their mean over scored positions. */
static int forward_loss(model_t *model, int64_t n)
{
    model_activations_t *a = model->acts;
    const model_config_t *cfg = &model->config;
    tensor_t logits = TENSOR_2D(a->logits, n, cfg->padded_vocab_size);
    tensor_t targets = tensor_i32(a->targets, 1, n, 1);
    tensor_t losses = TENSOR_1D(a->losses, n);
    tensor_t lse = TENSOR_1D(a->lse, n);
    KERNEL(kernels_crossentropy_forward(&losses, &lse, &logits, &targets, cfg->vocab_size));

    double sum = 0.0;
    int64_t scored = 0;
    for (int64_t i = 0; i < n; i++) {
        if (a->targets[i] >= 0) {
            sum += a->losses[i];
            scored++;
        }
    }
    model->mean_loss = scored ? (float)(sum / (double)scored) : 0.0f;
    return 0;
}

int model_forward(model_t *model, const int32_t *inputs, const int32_t *targets, int b, int t)
{
    const model_config_t *cfg = &model->config;
    if (b <= 0 || t <= 0 || t > cfg->n_ctx) {
        log_error("model forward: batch %d x sequence %d is invalid (sequence at most n_ctx %d)",
                  b, t, cfg->n_ctx);
        return -1;
    }
    int64_t n = (int64_t)b * t, c = cfg->n_embd, vp = cfg->padded_vocab_size;
    for (int64_t i = 0; i < n; i++) {
        if (inputs[i] < 0 || inputs[i] >= cfg->vocab_size ||
            (targets && targets[i] >= cfg->vocab_size)) {
            log_error("model forward: token id %d at position %lld is outside the vocabulary "
                      "of %d tokens",
                      inputs[i] < 0 || inputs[i] >= cfg->vocab_size ? inputs[i] : targets[i],
                      (long long)i, cfg->vocab_size);
            return -1;
        }
    }
    if (plan_activations(model, n) != 0)
        return -1;

    model_activations_t *a = model->acts;
    a->b = b;
    a->t = t;
    a->has_targets = targets != NULL;
    a->logits_valid = true;
    memcpy(a->inputs, inputs, (size_t)n * sizeof(int32_t));
    if (targets)
        memcpy(a->targets, targets, (size_t)n * sizeof(int32_t));

    float *p = model->params;
    tensor_t tokens = tensor_i32(a->inputs, 2, b, t);
    tensor_t encoded = TENSOR_3D(a->encoded, b, t, c);
    tensor_t wte = TENSOR_2D(p + model->tensor_offset[MODEL_WTE], vp, c);
    if (cfg->family == MODEL_FAMILY_LLAMA) {
        KERNEL(kernels_token_embedding_forward(&encoded, &tokens, &wte));
    } else {
        tensor_t wpe = TENSOR_2D(p + model->tensor_offset[MODEL_WPE], cfg->n_ctx, c);
        KERNEL(kernels_embedding_forward(&encoded, &tokens, &wte, &wpe));
    }

    const float *residual = a->encoded;
    for (int l = 0; l < cfg->n_layer; l++) {
        if (forward_layer(model, l, residual, b, t) != 0)
            return -1;
        residual = a->residual3 + l * n * c;
    }

    if (norm_forward(model, a->lnf, a->lnf_mean, a->lnf_rstd, residual, MODEL_LNF_W, MODEL_LNF_B,
                     0, n) != 0)
        return -1;
    tensor_t lnf = TENSOR_2D(a->lnf, n, c);
    tensor_t logits = TENSOR_2D(a->logits, n, vp);
    tensor_t head = TENSOR_2D(p + model->tensor_offset[model_head_tensor(model)], vp, c);
    KERNEL(kernels_matmul_forward(&logits, &lnf, &head, NULL));

    return targets ? forward_loss(model, n) : 0;
}

const float *model_logits(const model_t *model)
{
    return model->acts && model->acts->logits_valid ? model->acts->logits : NULL;
}

void model_target_logprobs(const model_t *model, float *out)
{
    const model_activations_t *a = model->acts;
    int64_t n = (int64_t)a->b * a->t;
    for (int64_t i = 0; i < n; i++)
        out[i] = a->targets[i] >= 0 ? -a->losses[i] : 0.0f;
}

static int alloc_backward_scratch(model_t *model)
{
    model_activations_t *a = model->acts;
    if (a->grad_memory)
        return 0;
    widths_t w = widths_of(&model->config);
    int64_t n = a->capacity, c = w.c;
    int64_t hidden = w.llama ? w.ffn_hidden : 0;
    a->grad_memory = malloc((size_t)(n * (3 * c + w.qkv + w.ffn_in + hidden)) * sizeof(float));
    if (!a->grad_memory) {
        log_error("cannot allocate backward buffers for %lld positions", (long long)n);
        return -1;
    }
    a->dresidual = a->grad_memory;
    a->dln = a->dresidual + n * c;
    a->datty = a->dln + n * c;
    a->dqkv = a->datty + n * c;
    a->dfch = a->dqkv + n * w.qkv;
    a->dhidden = a->dfch + n * w.ffn_in;
    return 0;
}

/* Backward through layer l; a->dresidual holds d(residual3[l]) on entry and
 * d(input of layer l) on return. */
static int backward_layer(model_t *model, int l, const float *residual)
{
    const model_config_t *cfg = &model->config;
    model_activations_t *a = model->acts;
    widths_t w = widths_of(cfg);
    int b = a->b, t = a->t;
    int64_t n = (int64_t)b * t, c = cfg->n_embd, nh = cfg->n_head;
    float *p = model->params, *g = model->grads;
    tensor_t dres = TENSOR_2D(a->dresidual, n, c);
    tensor_t dbias;

    /* MLP block: residual3 = fc_proj(act(fc(norm2(residual2)))) + residual2. */
    tensor_t fch = TENSOR_2D(a->fch + l * n * w.ffn_in, n, w.ffn_in);
    tensor_t fch_gelu = TENSOR_2D(a->fch_gelu + l * n * w.ffn_hidden, n, w.ffn_hidden);
    tensor_t dfch = TENSOR_2D(a->dfch, n, w.ffn_in);
    tensor_t fc_proj_w = TENSOR_2D(model_tensor(model, p, MODEL_FC_PROJ_W, l), c, w.ffn_hidden);
    tensor_t dfc_proj_w = TENSOR_2D(model_tensor(model, g, MODEL_FC_PROJ_W, l), c, w.ffn_hidden);
    if (w.llama) {
        tensor_t dhidden = TENSOR_2D(a->dhidden, n, w.ffn_hidden);
        KERNEL(kernels_matmul_backward(&dhidden, &dfc_proj_w, NULL, &dres, &fch_gelu,
                                       &fc_proj_w));
        KERNEL(kernels_swiglu_backward(&dfch, &dhidden, &fch));
    } else {
        KERNEL(kernels_matmul_backward(&dfch, &dfc_proj_w,
                                       bias_view(model, g, MODEL_FC_PROJ_B, l, &dbias), &dres,
                                       &fch_gelu, &fc_proj_w));
        KERNEL(kernels_gelu_backward(&dfch, &dfch, &fch));
    }

    tensor_t ln2 = TENSOR_2D(a->ln2 + l * n * c, n, c);
    tensor_t dln = TENSOR_2D(a->dln, n, c);
    tensor_t fc_w = TENSOR_2D(model_tensor(model, p, MODEL_FC_W, l), w.ffn_in, c);
    tensor_t dfc_w = TENSOR_2D(model_tensor(model, g, MODEL_FC_W, l), w.ffn_in, c);
    KERNEL(kernels_matmul_backward(&dln, &dfc_w, bias_view(model, g, MODEL_FC_B, l, &dbias),
                                   &dfch, &ln2, &fc_w));
    if (norm_backward(model, a->dresidual, a->dln, a->residual2 + l * n * c,
                      a->ln2_mean + l * n, a->ln2_rstd + l * n, MODEL_LN2_W, MODEL_LN2_B, l,
                      n) != 0)
        return -1;

    /* Attention block: residual2 = attn_proj(attention(qkv(norm1(residual)))) + residual. */
    tensor_t atty = TENSOR_3D(a->atty + l * n * c, b, t, c);
    tensor_t datty = TENSOR_3D(a->datty, b, t, c);
    tensor_t proj_w = TENSOR_2D(model_tensor(model, p, MODEL_ATTN_PROJ_W, l), c, c);
    tensor_t dproj_w = TENSOR_2D(model_tensor(model, g, MODEL_ATTN_PROJ_W, l), c, c);
    KERNEL(kernels_matmul_backward(&datty, &dproj_w,
                                   bias_view(model, g, MODEL_ATTN_PROJ_B, l, &dbias), &dres,
                                   &atty, &proj_w));

    tensor_t qkv = TENSOR_3D(a->qkv + l * n * w.qkv, b, t, w.qkv);
    tensor_t dqkv = TENSOR_3D(a->dqkv, b, t, w.qkv);
    tensor_t lse = TENSOR_3D(a->att_lse + l * nh * n, b, nh, t);
    if (w.llama) {
        tensor_t freqs = TENSOR_1D(model->rope_inv_freq, w.hs / 2);
        KERNEL(kernels_attention_gqa_backward(&dqkv, &datty, &qkv, &atty, &lse, w.nh, w.kv));
        KERNEL(kernels_rope_backward(&dqkv, &freqs, w.nh, w.kv, 0));
    } else {
        KERNEL(kernels_attention_backward(&dqkv, &datty, &qkv, &atty, &lse, (int)nh));
    }

    tensor_t ln1 = TENSOR_2D(a->ln1 + l * n * c, n, c);
    tensor_t qkv_w = TENSOR_2D(model_tensor(model, p, MODEL_QKV_W, l), w.qkv, c);
    tensor_t dqkv_w = TENSOR_2D(model_tensor(model, g, MODEL_QKV_W, l), w.qkv, c);
    KERNEL(kernels_matmul_backward(&dln, &dqkv_w, bias_view(model, g, MODEL_QKV_B, l, &dbias),
                                   &dqkv, &ln1, &qkv_w));
    return norm_backward(model, a->dresidual, a->dln, residual, a->ln1_mean + l * n,
                         a->ln1_rstd + l * n, MODEL_LN1_W, MODEL_LN1_B, l, n);
}

int64_t model_scored_count(const model_t *model)
{
    const model_activations_t *a = model->acts;
    if (!a || !a->has_targets)
        return 0;
    int64_t scored = 0;
    for (int64_t i = 0; i < (int64_t)a->b * a->t; i++)
        scored += a->targets[i] >= 0;
    return scored;
}

int model_backward(model_t *model)
{
    int64_t scored = model_scored_count(model);
    return model_backward_weighted(model, scored ? 1.0f / (float)scored : 0.0f);
}

int model_backward_weighted(model_t *model, float dloss)
{
    model_activations_t *a = model->acts;
    if (!a || !a->has_targets || !a->logits_valid || !model->grads) {
        log_error("model backward needs gradients and a forward with targets just before");
        return -1;
    }
    if (alloc_backward_scratch(model) != 0)
        return -1;

    const model_config_t *cfg = &model->config;
    int b = a->b, t = a->t;
    int64_t n = (int64_t)b * t, c = cfg->n_embd, vp = cfg->padded_vocab_size;
    float *p = model->params, *g = model->grads;

    /* The logits buffer becomes dlogits in place. */
    tensor_t logits = TENSOR_2D(a->logits, n, vp);
    tensor_t targets = tensor_i32(a->targets, 1, n, 1);
    tensor_t lse = TENSOR_1D(a->lse, n);
    KERNEL(kernels_crossentropy_backward(&logits, &logits, &lse, &targets, cfg->vocab_size,
                                         dloss));
    a->logits_valid = false;

    tensor_t lnf = TENSOR_2D(a->lnf, n, c);
    tensor_t dln = TENSOR_2D(a->dln, n, c);
    int head_id = model_head_tensor(model);
    tensor_t head = TENSOR_2D(p + model->tensor_offset[head_id], vp, c);
    tensor_t dhead = TENSOR_2D(g + model->tensor_offset[head_id], vp, c);
    KERNEL(kernels_matmul_backward(&dln, &dhead, NULL, &logits, &lnf, &head));

    const float *last = cfg->n_layer > 0 ? a->residual3 + (cfg->n_layer - 1) * n * c
                                         : a->encoded;
    memset(a->dresidual, 0, (size_t)(n * c) * sizeof(float));
    tensor_t dres = TENSOR_2D(a->dresidual, n, c);
    if (norm_backward(model, a->dresidual, a->dln, last, a->lnf_mean, a->lnf_rstd, MODEL_LNF_W,
                      MODEL_LNF_B, 0, n) != 0)
        return -1;

    for (int l = cfg->n_layer - 1; l >= 0; l--) {
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * n * c;
        if (backward_layer(model, l, residual) != 0)
            return -1;
    }

    tensor_t tokens = tensor_i32(a->inputs, 2, b, t);
    tensor_t dwte = TENSOR_2D(g + model->tensor_offset[MODEL_WTE], vp, c);
    if (cfg->family == MODEL_FAMILY_LLAMA) {
        KERNEL(kernels_token_embedding_backward(&dwte, &dres, &tokens));
    } else {
        tensor_t dwpe = TENSOR_2D(g + model->tensor_offset[MODEL_WPE], cfg->n_ctx, c);
        KERNEL(kernels_embedding_backward(&dwte, &dwpe, &dres, &tokens));
    }
    return 0;
}

void model_free(model_t *model)
{
    if (model->acts) {
        free(model->acts->memory);
        free(model->acts->grad_memory);
        free(model->acts->inputs);
        free(model->acts->targets);
        free(model->acts);
    }
    free(model->params);
    free(model->grads);
    free(model->rope_inv_freq);
    memset(model, 0, sizeof *model);
}

/* ---- decoding with a KV cache -------------------------------------------- */

/* Floats of decode scratch before the residual vector x: norm output, qkv,
 * attention output, projection, MLP input and hidden activations. */
static int64_t decode_scratch_before_x(const widths_t *w)
{
    return w->c + w->qkv + w->c + w->c + w->ffn_in + w->ffn_hidden;
}

int model_kv_cache_init(const model_t *model, model_kv_cache_t *cache)
{
    const model_config_t *cfg = &model->config;
    widths_t w = widths_of(cfg);
    size_t per_cache = (size_t)cfg->n_layer * cfg->n_ctx * (size_t)(w.kv * w.hs);
    memset(cache, 0, sizeof *cache);
    cache->keys = malloc(per_cache * sizeof(float));
    cache->values = malloc(per_cache * sizeof(float));
    cache->scratch = malloc((size_t)(decode_scratch_before_x(&w) + 2 * w.c) * sizeof(float));
    cache->capacity = cfg->n_ctx;
    if (!cache->keys || !cache->values || !cache->scratch) {
        log_error("cannot allocate a KV cache of %d positions", cfg->n_ctx);
        model_kv_cache_free(cache);
        return -1;
    }
    return 0;
}

void model_kv_cache_free(model_kv_cache_t *cache)
{
    free(cache->keys);
    free(cache->values);
    free(cache->scratch);
    memset(cache, 0, sizeof *cache);
}

/* One layer of the decode step on the residual vector x (C), in place. */
static int decode_layer(const model_t *model, model_kv_cache_t *cache, int l, float *x)
{
    const model_config_t *cfg = &model->config;
    widths_t w = widths_of(cfg);
    int64_t c = cfg->n_embd, kv_width = w.kv * w.hs, q_width = w.nh * w.hs;
    int pos = cache->length;
    float *p = model->params;
    float *ln = cache->scratch, *qkv = ln + c, *att = qkv + w.qkv, *proj = att + c;
    float *fch = proj + c, *fch_gelu = fch + w.ffn_in;
    tensor_t bias;

    if (norm_forward(model, ln, NULL, NULL, x, MODEL_LN1_W, MODEL_LN1_B, l, 1) != 0)
        return -1;
    tensor_t t_ln = TENSOR_2D(ln, 1, c);
    tensor_t t_qkv = TENSOR_3D(qkv, 1, 1, w.qkv);
    tensor_t qkv_w = TENSOR_2D(model_tensor(model, p, MODEL_QKV_W, l), w.qkv, c);
    KERNEL(kernels_matmul_forward(&t_qkv, &t_ln, &qkv_w,
                                  bias_view(model, p, MODEL_QKV_B, l, &bias)));
    if (w.llama) {
        tensor_t freqs = TENSOR_1D(model->rope_inv_freq, w.hs / 2);
        KERNEL(kernels_rope_forward(&t_qkv, &freqs, w.nh, w.kv, pos));
    }

    float *keys = cache->keys + (int64_t)l * cache->capacity * kv_width;
    float *values = cache->values + (int64_t)l * cache->capacity * kv_width;
    memcpy(keys + pos * kv_width, qkv + q_width, (size_t)kv_width * sizeof(float));
    memcpy(values + pos * kv_width, qkv + q_width + kv_width, (size_t)kv_width * sizeof(float));
    tensor_t t_att = TENSOR_1D(att, c), t_q = TENSOR_1D(qkv, q_width);
    tensor_t t_keys = TENSOR_2D(keys, cache->capacity, kv_width);
    tensor_t t_values = TENSOR_2D(values, cache->capacity, kv_width);
    if (w.llama)
        KERNEL(kernels_attention_gqa_decode(&t_att, &t_q, &t_keys, &t_values, pos + 1, w.nh,
                                            w.kv));
    else
        KERNEL(kernels_attention_decode(&t_att, &t_q, &t_keys, &t_values, pos + 1,
                                        cfg->n_head));

    tensor_t t_x = TENSOR_2D(x, 1, c);
    tensor_t t_att2 = TENSOR_2D(att, 1, c), t_proj = TENSOR_2D(proj, 1, c);
    tensor_t proj_w = TENSOR_2D(model_tensor(model, p, MODEL_ATTN_PROJ_W, l), c, c);
    KERNEL(kernels_matmul_forward(&t_proj, &t_att2, &proj_w,
                                  bias_view(model, p, MODEL_ATTN_PROJ_B, l, &bias)));
    KERNEL(kernels_add(&t_x, &t_x, &t_proj));

    if (norm_forward(model, ln, NULL, NULL, x, MODEL_LN2_W, MODEL_LN2_B, l, 1) != 0)
        return -1;
    tensor_t t_fch = TENSOR_2D(fch, 1, w.ffn_in);
    tensor_t t_fch_gelu = TENSOR_2D(fch_gelu, 1, w.ffn_hidden);
    tensor_t fc_w = TENSOR_2D(model_tensor(model, p, MODEL_FC_W, l), w.ffn_in, c);
    KERNEL(kernels_matmul_forward(&t_fch, &t_ln, &fc_w, bias_view(model, p, MODEL_FC_B, l, &bias)));
    if (w.llama)
        KERNEL(kernels_swiglu_forward(&t_fch_gelu, &t_fch));
    else
        KERNEL(kernels_gelu_forward(&t_fch_gelu, &t_fch));
    tensor_t fc_proj_w = TENSOR_2D(model_tensor(model, p, MODEL_FC_PROJ_W, l), c, w.ffn_hidden);
    KERNEL(kernels_matmul_forward(&t_proj, &t_fch_gelu, &fc_proj_w,
                                  bias_view(model, p, MODEL_FC_PROJ_B, l, &bias)));
    KERNEL(kernels_add(&t_x, &t_x, &t_proj));
    return 0;
}

int model_decode_step(const model_t *model, model_kv_cache_t *cache, int32_t token,
                      float *logits)
{
    const model_config_t *cfg = &model->config;
    widths_t w = widths_of(cfg);
    int64_t c = cfg->n_embd, vp = cfg->padded_vocab_size;
    if (cache->length >= cache->capacity) {
        log_error("decode: the context of %d positions is full", cache->capacity);
        return -1;
    }
    if (token < 0 || token >= cfg->vocab_size) {
        log_error("decode: token id %d is outside the vocabulary of %d tokens", token,
                  cfg->vocab_size);
        return -1;
    }

    float *p = model->params;
    float *x = cache->scratch + decode_scratch_before_x(&w);
    float *lnf = x + c;
    const float *e = p + model->tensor_offset[MODEL_WTE] + (int64_t)token * c;
    const float *pos = p + model->tensor_offset[MODEL_WPE] + (int64_t)cache->length * c;
    for (int64_t j = 0; j < c; j++)
        x[j] = w.llama ? e[j] : e[j] + pos[j];

    for (int l = 0; l < cfg->n_layer; l++)
        if (decode_layer(model, cache, l, x) != 0)
            return -1;

    if (norm_forward(model, lnf, NULL, NULL, x, MODEL_LNF_W, MODEL_LNF_B, 0, 1) != 0)
        return -1;
    tensor_t t_lnf = TENSOR_2D(lnf, 1, c);
    tensor_t t_logits = TENSOR_2D(logits, 1, vp);
    tensor_t head = TENSOR_2D(p + model->tensor_offset[model_head_tensor(model)], vp, c);
    KERNEL(kernels_matmul_forward(&t_logits, &t_lnf, &head, NULL));
    cache->length++;
    return 0;
}

/*
 * The training run behind `train`: settings, the loop, evaluation,
 * checkpoints and the metrics written into the output folder.
 */
#ifndef LMPIPE_TRAINER_H
#define LMPIPE_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "comm.h"

typedef struct {
    char *model_config_path;
    char *tokenizer_path;  /* NULL: <shard folder>/tokenizer.json */
    bool resume;
    int64_t batch_size;    /* sequences per micro-batch */
    int64_t grad_accum;    /* micro-batches per optimizer step */
    int64_t seq_len;       /* 0: the model's n_ctx */
    int64_t steps;
    double learning_rate;
    double min_lr_ratio;
    int64_t warmup_steps;
    double weight_decay;
    double beta1;
    double beta2;
    double eps;
    double grad_clip;
    int64_t eval_every;
    int64_t eval_batches;
    int64_t checkpoint_every;
    int64_t seed;
    char *schedule;           /* cosine, linear or wsd */
    double decay_fraction;    /* wsd: share of the steps spent decaying */
    int64_t keep_checkpoints; /* keep the last K step folders; 0 keeps all */
    int64_t keep_every;       /* step folders at multiples of this are kept too */
    char *init_from;          /* Hugging Face checkpoint folder to start from */
    char *continue_from;      /* earlier run's output or checkpoint folder to continue */
    double peak_gflops;       /* peak of all ranks for the MFU; 0 measures it */
    double skip_outliers;     /* z-score above which a step is skipped; 0: never */
    char *matmul_precision;   /* fp32, bf16 or auto; fp32 or bf16 once settled */
    int64_t threads;          /* compute threads of this rank */
} train_settings_t;

/*
 * Trains a model on the shard folder `shard_folder` and writes the output
 * folder `output` (checkpoints/, final/, train_log.jsonl, metrics.json and
 * the manifest). `program` supplies the settings hash and JSON. `comm` holds
 * the ranks of a data-parallel run (comm_single for one process); every rank
 * calls this with the same settings and only rank 0 writes. Returns 0, or -1
 * after logging.
 */
int trainer_run(const cli_program_t *program, const train_settings_t *settings,
                const char *shard_folder, const char *output, comm_t *comm);

#endif

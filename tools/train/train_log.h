/*
 * Files of a training run besides the checkpoints: the JSON Lines step log,
 * trainer_state.json and metrics.json.
 */
#ifndef LMPIPE_TRAIN_LOG_H
#define LMPIPE_TRAIN_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "dataloader.h"

/* One line of the step log. */
typedef struct {
    int64_t step;             /* steps completed, 1-based */
    double loss;
    double learning_rate;
    double grad_norm;
    double tokens_per_second;
    double elapsed_seconds;   /* since the start of the run, resumed time included */
    double mfu;               /* model FLOPs per second over the peak (docs/model.md) */
    int skipped;              /* 1: an outlier step whose update was skipped */
} train_log_step_t;

typedef struct {
    char *path;
    FILE *file;
} train_log_t;

/*
 * Renames `folder`/train_log.jsonl to train_log.jsonl.previous before a
 * resumed run reopens the output folder, which removes the files of the
 * earlier run. Returns 0 (also when there is no log) or -1 after logging.
 */
int train_log_set_aside(const char *folder);

/*
 * Creates `folder`/train_log.jsonl. A fresh run (keep_through < 0) starts it
 * empty; a resumed run first copies the lines with step <= keep_through from
 * the log set aside by train_log_set_aside, so steps redone after the
 * checkpoint are not logged twice. Returns 0 or -1 after logging.
 */
int train_log_open(train_log_t *log, const char *folder, int64_t keep_through);
void train_log_step(train_log_t *log, const train_log_step_t *entry);
void train_log_eval(train_log_t *log, int64_t step, double val_loss);
void train_log_close(train_log_t *log);

/* Loss and gradient norm of the last accepted steps, oldest first, for
 * skipping outlier steps. */
#define TRAIN_OUTLIER_WINDOW 64
typedef struct {
    int count;
    double loss[TRAIN_OUTLIER_WINDOW];
    double grad_norm[TRAIN_OUTLIER_WINDOW];
} outlier_history_t;

/* Everything trainer_state.json records for an exact resume. */
typedef struct {
    int64_t step;              /* steps completed */
    int64_t optimizer_step;    /* updates done: step less the skipped steps */
    outlier_history_t history;
    double elapsed_seconds;
    dataloader_state_t train_loader;
    uint64_t init_seed;
    char tokenizer_hash[33];   /* empty when no tokenizer was given */
    int world_size;            /* data-parallel ranks; 1 in files that lack it */
    int batch_per_rank;        /* sequences per micro-batch on each rank */
    int grad_accum;            /* micro-batches per step; 0 in files that lack it */
    int64_t segment_start;     /* step at which the current shard set started */
    char data_hash[33];        /* hash of the shard folder's manifest; may be empty */
} trainer_state_t;

/* Returns trainer_state.json text (malloc'ed) with the settings JSON embedded. */
char *trainer_state_to_json(const trainer_state_t *state, const char *settings_json);

/* Parses trainer_state.json text. Returns 0, or -1 after logging `origin`. */
int trainer_state_from_json(const char *text, const char *origin, trainer_state_t *state);

/* Facts of a finished run written to metrics.json. */
typedef struct {
    int64_t steps;
    double final_train_loss;
    double final_val_loss;
    double unigram_entropy;    /* nats per token over the validation split */
    uint64_t val_tokens;
    int64_t parameters;
    double ms_per_step;        /* mean over the steps of this process */
    double tokens_per_second;
    double gflops_per_second;  /* model FLOPs per second, formula in docs/model.md */
} train_metrics_t;

/* Writes `folder`/metrics.json atomically. Returns 0 or -1 after logging. */
int train_metrics_write(const char *folder, const train_metrics_t *metrics);

#endif

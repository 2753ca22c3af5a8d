/* pair_writer: PNG pairs of a batch on a pool of threads (see
 * pair_writer.h). One mutex guards the batch in flight; workers claim its
 * pairs one at a time (PNG encoding dominates, so finer locking would buy
 * nothing), the caller sleeps on `idle` until every claimed pair is done. */
#include "pair_writer.h"

#include "segq_error.h"
#include "segq_image.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a path's room plus the reason segq_image gives */
#define ERR_MAX (PATH_MAX + SEGQ_PAIR_NAME_MAX + 256)

typedef struct {
    float *planes; /* batch pairs of 4 planes */
    char *names;   /* batch names of SEGQ_PAIR_NAME_MAX bytes */
} slot_t;

struct segq_pair_writer_t {
    char *dir;
    int64_t batch;
    uint32_t width, height;
    slot_t slot[2];
    int fill; /* the caller's slot; only the other one is ever in flight */
    pthread_t *threads;
    int nthreads; /* started, so joined on destroy */
    int synced;   /* lock and conditions initialised */
    pthread_mutex_t lock;
    pthread_cond_t work; /* to workers: pairs to claim, or stop */
    pthread_cond_t idle; /* to the caller: the batch is done */
    /* under lock: the batch in flight */
    const slot_t *busy; /* NULL: none */
    int64_t count, next, finished;
    int64_t failed; /* lowest failing pair, INT64_MAX while none */
    int rc;
    char err[ERR_MAX];
    int stop;
};

int segq_pair_write_png(const float *planes, uint32_t width, uint32_t height,
                        const char *image_path, const char *mask_path, char *err, size_t errlen)
{
    size_t plane = (size_t)width * height;
    segq_image_t *img = NULL, *mask = NULL;
    int rc = segq_image_from_float_chw(planes, width, height, 3, &img, err, errlen);
    if (rc == 0)
        rc = segq_image_write_png(img, image_path, err, errlen);
    if (rc == 0)
        rc = segq_image_from_float_chw(planes + 3 * plane, width, height, 1, &mask, err, errlen);
    if (rc == 0)
        rc = segq_image_write_png(mask, mask_path, err, errlen);
    segq_image_destroy(&img);
    segq_image_destroy(&mask);
    return rc;
}

/* Pair k of slot s, on a worker. Paths fit: new() bounds dir, name() the
 * name. */
static int write_one(const segq_pair_writer_t *self, const slot_t *s, int64_t k, char *err,
                     size_t errlen)
{
    char img[PATH_MAX + SEGQ_PAIR_NAME_MAX + 16], msk[sizeof img];
    const char *name = s->names + (size_t)k * SEGQ_PAIR_NAME_MAX;
    snprintf(img, sizeof img, "%s/images/%s.png", self->dir, name);
    snprintf(msk, sizeof msk, "%s/masks/%s.png", self->dir, name);
    size_t pair = (size_t)4 * self->width * self->height;
    return segq_pair_write_png(s->planes + (size_t)k * pair, self->width, self->height, img, msk,
                               err, errlen);
}

/* Records pair k's outcome (lock held); the lowest failure wins, so the
 * error is the one a serial writer would have met first. */
static void finish_pair(segq_pair_writer_t *self, int64_t k, int rc, const char *err)
{
    if (rc && k < self->failed) {
        self->failed = k;
        self->rc = rc;
        snprintf(self->err, sizeof self->err, "%s", err);
    }
    if (++self->finished == self->count)
        pthread_cond_signal(&self->idle);
}

static void *worker_main(void *arg)
{
    segq_pair_writer_t *self = arg;
    char err[ERR_MAX];
    pthread_mutex_lock(&self->lock);
    for (;;) {
        while (!self->stop && !(self->busy && self->next < self->count))
            pthread_cond_wait(&self->work, &self->lock);
        if (self->stop)
            break;
        const slot_t *s = self->busy;
        int64_t k = self->next++;
        int skip = k > self->failed; /* a serial writer would not get there */
        pthread_mutex_unlock(&self->lock);
        int rc = skip ? 0 : write_one(self, s, k, err, sizeof err);
        pthread_mutex_lock(&self->lock);
        finish_pair(self, k, rc, err);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

/* Asks the first n workers to stop and joins them: the caller holds no
 * batch in flight, so none is mid-pair for long. */
static void stop_workers(segq_pair_writer_t *self, int n)
{
    pthread_mutex_lock(&self->lock);
    self->stop = 1;
    pthread_cond_broadcast(&self->work);
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < n; i++)
        pthread_join(self->threads[i], NULL);
}

void segq_pair_writer_destroy(segq_pair_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_pair_writer_t *self = *self_p;
    if (self->synced) {
        segq_pair_writer_wait(self, NULL, NULL, 0);
        stop_workers(self, self->nthreads);
        pthread_cond_destroy(&self->idle);
        pthread_cond_destroy(&self->work);
        pthread_mutex_destroy(&self->lock);
    }
    for (int i = 0; i < 2; i++) {
        free(self->slot[i].planes);
        free(self->slot[i].names);
    }
    free(self->threads);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/* Buffers and synchronisation of a writer whose sizes are set; ENOMEM. */
static int alloc_state(segq_pair_writer_t *self, const char *dir, size_t floats, int threads)
{
    if (!(self->dir = strdup(dir)) || !(self->threads = calloc((size_t)threads, sizeof(pthread_t))))
        return SEGQ_ENOMEM;
    for (int i = 0; i < 2; i++) {
        self->slot[i].planes = malloc(floats * sizeof(float));
        self->slot[i].names = calloc((size_t)self->batch, SEGQ_PAIR_NAME_MAX);
        if (!self->slot[i].planes || !self->slot[i].names)
            return SEGQ_ENOMEM;
    }
    if (pthread_mutex_init(&self->lock, NULL) != 0)
        return SEGQ_ENOMEM;
    if (pthread_cond_init(&self->work, NULL) != 0) {
        pthread_mutex_destroy(&self->lock);
        return SEGQ_ENOMEM;
    }
    if (pthread_cond_init(&self->idle, NULL) != 0) {
        pthread_cond_destroy(&self->work);
        pthread_mutex_destroy(&self->lock);
        return SEGQ_ENOMEM;
    }
    self->synced = 1;
    return 0;
}

/* Floats of one slot, 0 when a size is 0 or the bytes would not fit size_t. */
static size_t slot_floats(int64_t batch, uint32_t width, uint32_t height)
{
    if (batch < 1 || width < 1 || height < 1)
        return 0;
    size_t limit = SIZE_MAX / sizeof(float) / 4; /* pixels whose 4 float planes fit */
    if (width > limit / height || (uint64_t)batch > limit / ((size_t)width * height))
        return 0;
    return (size_t)batch * 4 * width * height;
}

segq_pair_writer_t *segq_pair_writer_new(const char *dir, int threads, int64_t batch,
                                         uint32_t width, uint32_t height, char *err, size_t errlen)
{
    size_t floats = slot_floats(batch, width, height);
    if (!dir || strlen(dir) >= PATH_MAX || !floats) {
        snprintf(err, errlen, "pair writer: %s",
                 !floats ? "batch or image size 0 or too large" : "folder name too long");
        return NULL;
    }
    threads = threads < 1 ? 1 : (int64_t)threads > batch ? (int)batch : threads;
    segq_pair_writer_t *self = calloc(1, sizeof *self);
    if (self) {
        self->batch = batch;
        self->width = width;
        self->height = height;
        self->failed = INT64_MAX;
    }
    if (!self || alloc_state(self, dir, floats, threads) != 0) {
        snprintf(err, errlen, "pair writer: out of memory for 2 x %lld pairs of %ux%u",
                 (long long)batch, width, height);
        segq_pair_writer_destroy(&self);
        return NULL;
    }
    for (; self->nthreads < threads; self->nthreads++)
        if (pthread_create(&self->threads[self->nthreads], NULL, worker_main, self) != 0) {
            snprintf(err, errlen, "pair writer: cannot start thread %d of %d", self->nthreads + 1,
                     threads);
            segq_pair_writer_destroy(&self);
            return NULL;
        }
    return self;
}

float *segq_pair_writer_buffer(segq_pair_writer_t *self)
{
    return self->slot[self->fill].planes;
}

int segq_pair_writer_name(segq_pair_writer_t *self, int64_t k, const char *name)
{
    if (k < 0 || k >= self->batch || !name || strlen(name) >= SEGQ_PAIR_NAME_MAX)
        return SEGQ_EINTERNAL;
    memcpy(self->slot[self->fill].names + (size_t)k * SEGQ_PAIR_NAME_MAX, name, strlen(name) + 1);
    return 0;
}

int segq_pair_writer_submit(segq_pair_writer_t *self, int64_t count)
{
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    if (self->busy || count < 1 || count > self->batch)
        rc = SEGQ_EINTERNAL;
    else {
        self->busy = &self->slot[self->fill];
        self->fill ^= 1;
        self->count = count;
        self->next = self->finished = 0;
        self->failed = INT64_MAX;
        self->rc = 0;
        pthread_cond_broadcast(&self->work);
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

int segq_pair_writer_wait(segq_pair_writer_t *self, int64_t *written, char *err, size_t errlen)
{
    pthread_mutex_lock(&self->lock);
    while (self->busy && self->finished < self->count)
        pthread_cond_wait(&self->idle, &self->lock);
    int rc = self->busy ? self->rc : 0;
    if (written)
        *written = !self->busy ? 0 : self->failed < self->count ? self->failed : self->count;
    if (rc && err && errlen)
        snprintf(err, errlen, "%s", self->err);
    self->busy = NULL;
    pthread_mutex_unlock(&self->lock);
    return rc;
}

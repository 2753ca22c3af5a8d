/*  scheduler.c: fair-share, priority and fit scheduling with heaps. */
#include "scheduler.h"
#include "segq_error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NOT_IN_HEAP ((size_t) -1)

typedef struct {
    uint32_t index;
    uint64_t total;
    int64_t used; /* may exceed total after re-adopting jobs */
} node_gpu_t;

struct segq__sched_node {
    void *owner;
    uint32_t cpu_total;
    int64_t cpu_used;
    node_gpu_t *gpus;
    size_t n_gpus;
    uint64_t kinds;
    uint32_t inproc_window;
    uint32_t inproc_used;
    bool accepting;
    size_t pos;                 /* in the scheduler's node array */
    segq__sched_job_t *running; /* doubly linked through job->prev/next */
    segq__sched_hot_t hot [SEGQ_SCHED_MAX_HOT];
    size_t n_hot;
};

struct segq__sched_class {
    segq__sched_user_t *user;
    uint16_t kind;
    bool in_process;
    uint64_t gpu_mem;
    uint32_t cpu_slots;
    segq__sched_job_t **heap;
    size_t size, capacity;
    size_t pos; /* in the user's class array */
};

struct segq__sched_user {
    char *name;
    uint32_t running;
    uint64_t gpu_mem; /* requested by its running jobs */
    uint64_t pending; /* waiting + queued, kept by the job owner */
    segq__sched_limits_t limits;
    double past;         /* usage of ended runs, decayed to the scheduler's now */
    double rate;         /* weight of its running jobs together, per second */
    double rate_started; /* sum of weight x started over its running jobs */
    double key;          /* usage as the heap orders it (s_user_key) */
    int32_t urgent;      /* highest queued priority above the user band, else 0 */
    uint64_t served; /* tick of the last dispatch to this user */
    size_t heap_pos;
    segq__sched_class_t **classes;
    size_t n_classes, cap_classes;
    size_t queued;
    segq__sched_user_t *next_user;    /* list of all users */
    segq__sched_user_t *next_blocked; /* during a dispatch round */
    bool blocked;                     /* on that list */
};

struct segq__sched {
    segq__sched_user_t *users; /* all, for lookup and destroy */
    segq__sched_user_t **heap; /* users with queued jobs */
    size_t heap_size, heap_capacity;
    segq__sched_node_t **nodes;
    size_t n_nodes, cap_nodes;
    uint64_t tick;
    size_t queued;
    segq__sched_limits_fn *limits_fn;
    void *limits_arg;
    double now;
    double half_life;
};

/* ---- job heaps (per class): priority desc, then seq asc ---- */

static bool
s_job_before (const segq__sched_job_t *a, const segq__sched_job_t *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->seq < b->seq;
}

static void
s_job_place (segq__sched_class_t *c, size_t at, segq__sched_job_t *job)
{
    c->heap [at] = job;
    job->heap_pos = at;
}

static void
s_job_up (segq__sched_class_t *c, size_t at)
{
    segq__sched_job_t *job = c->heap [at];
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (!s_job_before (job, c->heap [parent]))
            break;
        s_job_place (c, at, c->heap [parent]);
        at = parent;
    }
    s_job_place (c, at, job);
}

static void
s_job_down (segq__sched_class_t *c, size_t at)
{
    segq__sched_job_t *job = c->heap [at];
    for (;;) {
        size_t child = 2 * at + 1;
        if (child >= c->size)
            break;
        if (child + 1 < c->size && s_job_before (c->heap [child + 1], c->heap [child]))
            child++;
        if (!s_job_before (c->heap [child], job))
            break;
        s_job_place (c, at, c->heap [child]);
        at = child;
    }
    s_job_place (c, at, job);
}

/* ---- user heap: admin priority, then least usage, then least
   recently served ---- */

static bool
s_user_before (const segq__sched_user_t *a, const segq__sched_user_t *b)
{
    if (a->urgent != b->urgent)
        return a->urgent > b->urgent;
    return a->key != b->key ? a->key < b->key : a->served < b->served;
}

/* What its running jobs used up to now: each one's weight x (now -
   started), kept as two sums so that no job is visited. */
static double
s_user_accrued (const segq__sched_t *self, const segq__sched_user_t *user)
{
    double accrued = user->rate * self->now - user->rate_started;
    return accrued > 0 ? accrued : 0;
}

static void
s_user_key (const segq__sched_t *self, segq__sched_user_t *user)
{
    user->key = user->past + s_user_accrued (self, user) + SEGQ_SCHED_RUNNING_CHARGE_S * user->rate;
}

static void
s_user_place (segq__sched_t *self, size_t at, segq__sched_user_t *user)
{
    self->heap [at] = user;
    user->heap_pos = at;
}

static void
s_user_up (segq__sched_t *self, size_t at)
{
    segq__sched_user_t *user = self->heap [at];
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (!s_user_before (user, self->heap [parent]))
            break;
        s_user_place (self, at, self->heap [parent]);
        at = parent;
    }
    s_user_place (self, at, user);
}

static void
s_user_down (segq__sched_t *self, size_t at)
{
    segq__sched_user_t *user = self->heap [at];
    for (;;) {
        size_t child = 2 * at + 1;
        if (child >= self->heap_size)
            break;
        if (child + 1 < self->heap_size
            && s_user_before (self->heap [child + 1], self->heap [child]))
            child++;
        if (!s_user_before (self->heap [child], user))
            break;
        s_user_place (self, at, self->heap [child]);
        at = child;
    }
    s_user_place (self, at, user);
}

/* Every key changed at once (the clock moved): order the heap anew. */
static void
s_user_heapify (segq__sched_t *self)
{
    for (size_t at = self->heap_size / 2; at-- > 0;)
        s_user_down (self, at);
}

static int
s_user_push (segq__sched_t *self, segq__sched_user_t *user)
{
    if (self->heap_size == self->heap_capacity) {
        size_t capacity = self->heap_capacity ? self->heap_capacity * 2 : 16;
        segq__sched_user_t **heap = realloc (self->heap, capacity * sizeof *heap);
        if (!heap)
            return SEGQ_ENOMEM;
        self->heap = heap;
        self->heap_capacity = capacity;
    }
    s_user_place (self, self->heap_size++, user);
    s_user_up (self, user->heap_pos);
    return 0;
}

static void
s_user_remove (segq__sched_t *self, segq__sched_user_t *user)
{
    size_t at = user->heap_pos;
    user->heap_pos = NOT_IN_HEAP;
    segq__sched_user_t *last = self->heap [--self->heap_size];
    if (at == self->heap_size)
        return;
    s_user_place (self, at, last);
    s_user_up (self, at);
    s_user_down (self, last->heap_pos);
}

/* Whether the user belongs in the heap: something queued and room under
   its running-jobs limit. */
static bool
s_user_eligible (const segq__sched_user_t *user)
{
    return user->queued > 0 && user->running < user->limits.max_running;
}

/* The user's key or eligibility changed: move it to its place, into the
   heap or out of it. A user blocked for the current dispatch round is on
   the round's list, not here, and comes back at the round's end. */
static void
s_user_rekey (segq__sched_t *self, segq__sched_user_t *user)
{
    s_user_key (self, user);
    bool eligible = s_user_eligible (user);
    if (user->heap_pos == NOT_IN_HEAP) {
        if (eligible && !user->blocked)
            s_user_push (self, user); /* on failure it waits for the next change */
        return;
    }
    if (!eligible) {
        s_user_remove (self, user);
        return;
    }
    s_user_up (self, user->heap_pos);
    s_user_down (self, user->heap_pos);
}

/* The highest admin priority among the user's queued jobs: each class
   heap's top is its highest, so this looks at tops only. */
static void
s_user_urgent_update (segq__sched_user_t *user)
{
    int32_t urgent = 0;
    for (size_t i = 0; i < user->n_classes; i++) {
        const segq__sched_class_t *c = user->classes [i];
        if (c->size && c->heap [0]->priority > SEGQ_SCHED_USER_PRIORITY_MAX
            && c->heap [0]->priority > urgent)
            urgent = c->heap [0]->priority;
    }
    user->urgent = urgent;
}

/* ---- scheduler ---- */

segq__sched_t *
segq__sched_new (void)
{
    return calloc (1, sizeof (segq__sched_t));
}

static void
s_class_destroy (segq__sched_class_t *c)
{
    free (c->heap);
    free (c);
}

void
segq__sched_destroy (segq__sched_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__sched_t *self = *self_p;
    while (self->users) {
        segq__sched_user_t *user = self->users;
        self->users = user->next_user;
        for (size_t i = 0; i < user->n_classes; i++)
            s_class_destroy (user->classes [i]);
        free (user->classes);
        free (user->name);
        free (user);
    }
    for (size_t i = 0; i < self->n_nodes; i++) {
        free (self->nodes [i]->gpus);
        free (self->nodes [i]);
    }
    free (self->nodes);
    free (self->heap);
    free (self);
    *self_p = NULL;
}

segq__sched_user_t *
segq__sched_user (segq__sched_t *self, const char *name)
{
    for (segq__sched_user_t *user = self->users; user; user = user->next_user)
        if (strcmp (user->name, name) == 0)
            return user;
    segq__sched_user_t *user = calloc (1, sizeof *user);
    if (!user || !(user->name = strdup (name))) {
        free (user);
        return NULL;
    }
    user->heap_pos = NOT_IN_HEAP;
    user->limits = self->limits_fn
                       ? self->limits_fn (self->limits_arg, name)
                       : (segq__sched_limits_t){ SEGQ_SCHED_UNLIMITED, SEGQ_SCHED_UNLIMITED };
    user->next_user = self->users;
    self->users = user;
    return user;
}

void
segq__sched_set_limits_fn (segq__sched_t *self, segq__sched_limits_fn *fn, void *arg)
{
    self->limits_fn = fn;
    self->limits_arg = arg;
}

void
segq__sched_reload_limits (segq__sched_t *self)
{
    for (segq__sched_user_t *user = self->users; user; user = user->next_user) {
        if (self->limits_fn)
            user->limits = self->limits_fn (self->limits_arg, user->name);
        s_user_rekey (self, user);
    }
}

segq__sched_limits_t
segq__sched_user_limits (const segq__sched_user_t *user)
{
    return user->limits;
}

/* ---- fair share over time ---- */

void
segq__sched_set_half_life (segq__sched_t *self, double half_life_s)
{
    self->half_life = half_life_s > 0 ? half_life_s : 0;
}

/* How much of a usage `age` seconds old still counts. */
static double
s_decay (const segq__sched_t *self, double age)
{
    if (self->half_life <= 0)
        return 0;
    return age > 0 ? exp2 (-age / self->half_life) : 1;
}

void
segq__sched_set_now (segq__sched_t *self, double now)
{
    /* each move re-keys every user: a few ms change no one's share, and
       a busy reactor turns thousands of times a second */
    if (!(now >= self->now + SEGQ_SCHED_CLOCK_STEP_S))
        return;
    double factor = s_decay (self, now - self->now);
    self->now = now;
    for (segq__sched_user_t *user = self->users; user; user = user->next_user) {
        user->past *= factor;
        s_user_key (self, user);
    }
    s_user_heapify (self);
}

double
segq__sched_now (const segq__sched_t *self)
{
    return self->now;
}

void
segq__sched_user_charge (segq__sched_t *self, segq__sched_user_t *user, double usage, double at)
{
    if (usage > 0)
        user->past += usage * s_decay (self, self->now - at);
    s_user_rekey (self, user);
}

double
segq__sched_user_usage (const segq__sched_t *self, const segq__sched_user_t *user)
{
    return user->past + s_user_accrued (self, user);
}

double
segq__sched_job_weight (const segq__sched_job_t *job)
{
    double weight = job->cpu_slots + (double) job->gpu_mem / (double) (1ULL << 30);
    return weight > 1 ? weight : 1;
}

uint64_t
segq__sched_user_gpu_mem (const segq__sched_user_t *user)
{
    return user->gpu_mem;
}

void
segq__sched_user_pending_add (segq__sched_user_t *user, int64_t delta)
{
    user->pending =
        delta < 0 && (uint64_t) -delta > user->pending ? 0 : user->pending + (uint64_t) delta;
}

uint64_t
segq__sched_user_pending (const segq__sched_user_t *user)
{
    return user->pending;
}

const char *
segq__sched_user_name (const segq__sched_user_t *user)
{
    return user->name;
}

uint32_t
segq__sched_user_running (const segq__sched_user_t *user)
{
    return user->running;
}

static segq__sched_class_t *
s_class_for (segq__sched_user_t *user, const segq__sched_job_t *job)
{
    for (size_t i = 0; i < user->n_classes; i++) {
        segq__sched_class_t *c = user->classes [i];
        if (c->kind == job->kind && c->gpu_mem == job->gpu_mem && c->cpu_slots == job->cpu_slots
            && c->in_process == job->in_process)
            return c;
    }
    if (user->n_classes == user->cap_classes) {
        size_t capacity = user->cap_classes ? user->cap_classes * 2 : 4;
        segq__sched_class_t **classes = realloc (user->classes, capacity * sizeof *classes);
        if (!classes)
            return NULL;
        user->classes = classes;
        user->cap_classes = capacity;
    }
    segq__sched_class_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    c->user = user;
    c->kind = job->kind;
    c->in_process = job->in_process;
    c->gpu_mem = job->gpu_mem;
    c->cpu_slots = job->cpu_slots;
    c->pos = user->n_classes;
    user->classes [user->n_classes++] = c;
    return c;
}

int
segq__sched_enqueue (segq__sched_t *self, segq__sched_job_t *job)
{
    if (job->klass || job->running || !job->user || job->kind >= SEGQ_SCHED_MAX_KINDS)
        return SEGQ_EINVAL;
    segq__sched_user_t *user = job->user;
    segq__sched_class_t *c = s_class_for (user, job);
    if (!c)
        return SEGQ_ENOMEM;
    if (c->size == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : 8;
        segq__sched_job_t **heap = realloc (c->heap, capacity * sizeof *heap);
        if (!heap)
            return SEGQ_ENOMEM;
        c->heap = heap;
        c->capacity = capacity;
    }
    if (user->heap_pos == NOT_IN_HEAP && !user->blocked && user->running < user->limits.max_running
        && s_user_push (self, user))
        return SEGQ_ENOMEM;
    job->klass = c;
    s_job_place (c, c->size++, job);
    s_job_up (c, job->heap_pos);
    user->queued++;
    self->queued++;
    if (job->priority > SEGQ_SCHED_USER_PRIORITY_MAX && job->priority > user->urgent) {
        user->urgent = job->priority;
        s_user_rekey (self, user);
    }
    return 0;
}

void
segq__sched_dequeue (segq__sched_t *self, segq__sched_job_t *job)
{
    segq__sched_class_t *c = job->klass;
    if (!c)
        return;
    segq__sched_user_t *user = c->user;
    size_t at = job->heap_pos;
    segq__sched_job_t *last = c->heap [--c->size];
    if (at != c->size) {
        s_job_place (c, at, last);
        s_job_up (c, at);
        s_job_down (c, last->heap_pos);
    }
    job->klass = NULL;
    job->heap_pos = NOT_IN_HEAP;
    user->queued--;
    self->queued--;
    if (c->size == 0) {
        /* classes come and go with the requests: keep only live ones */
        segq__sched_class_t *moved = user->classes [--user->n_classes];
        user->classes [c->pos] = moved;
        moved->pos = c->pos;
        s_class_destroy (c);
    }
    if (job->priority > SEGQ_SCHED_USER_PRIORITY_MAX && job->priority == user->urgent)
        s_user_urgent_update (user);
    s_user_rekey (self, user);
}

void
segq__sched_set_priority (segq__sched_t *self, segq__sched_job_t *job, int32_t priority)
{
    int32_t old = job->priority;
    job->priority = priority;
    segq__sched_class_t *c = job->klass;
    if (!c)
        return;
    s_job_up (c, job->heap_pos);
    s_job_down (c, job->heap_pos);
    segq__sched_user_t *user = c->user;
    if (priority > SEGQ_SCHED_USER_PRIORITY_MAX && priority > user->urgent)
        user->urgent = priority;
    else if (old > SEGQ_SCHED_USER_PRIORITY_MAX && old == user->urgent)
        s_user_urgent_update (user);
    s_user_rekey (self, user);
}

size_t
segq__sched_queued (const segq__sched_t *self)
{
    return self->queued;
}

/* ---- nodes ---- */

segq__sched_node_t *
segq__sched_node_new (segq__sched_t *self, void *owner, uint32_t cpu_slots,
                      const segq__sched_gpu_t *gpus, size_t n_gpus, uint64_t kinds_mask,
                      uint32_t inproc_window)
{
    if (self->n_nodes == self->cap_nodes) {
        size_t capacity = self->cap_nodes ? self->cap_nodes * 2 : 8;
        segq__sched_node_t **nodes = realloc (self->nodes, capacity * sizeof *nodes);
        if (!nodes)
            return NULL;
        self->nodes = nodes;
        self->cap_nodes = capacity;
    }
    segq__sched_node_t *node = calloc (1, sizeof *node);
    if (!node || (n_gpus && !(node->gpus = calloc (n_gpus, sizeof *node->gpus)))) {
        free (node);
        return NULL;
    }
    node->owner = owner;
    node->cpu_total = cpu_slots;
    node->n_gpus = n_gpus;
    for (size_t i = 0; i < n_gpus; i++) {
        node->gpus [i].index = gpus [i].index;
        node->gpus [i].total = gpus [i].mem_total;
    }
    node->kinds = kinds_mask;
    node->inproc_window = inproc_window;
    node->accepting = true;
    node->pos = self->n_nodes;
    self->nodes [self->n_nodes++] = node;
    return node;
}

void
segq__sched_node_destroy (segq__sched_t *self, segq__sched_node_t **node_p)
{
    if (!node_p || !*node_p)
        return;
    segq__sched_node_t *node = *node_p;
    while (node->running)
        segq__sched_release (self, node->running);
    segq__sched_node_t *moved = self->nodes [--self->n_nodes];
    self->nodes [node->pos] = moved;
    moved->pos = node->pos;
    free (node->gpus);
    free (node);
    *node_p = NULL;
}

void *
segq__sched_node_owner (const segq__sched_node_t *node)
{
    return node->owner;
}

uint64_t
segq__sched_key (const char *sha256)
{
    uint64_t key = 0;
    for (size_t i = 0; i < 16 && sha256 [i]; i++) {
        char c = sha256 [i];
        key = key << 4 | (uint64_t) (c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
    }
    return key ? key : 1;
}

void
segq__sched_node_set_hot (segq__sched_node_t *node, const segq__sched_hot_t *hot, size_t n)
{
    node->n_hot = n < SEGQ_SCHED_MAX_HOT ? n : SEGQ_SCHED_MAX_HOT;
    memcpy (node->hot, hot, node->n_hot * sizeof *hot);
}

void
segq__sched_node_set_accepting (segq__sched_node_t *node, bool accepting)
{
    node->accepting = accepting;
}

segq__sched_job_t *
segq__sched_node_running (const segq__sched_node_t *node)
{
    return node->running;
}

uint32_t
segq__sched_node_cpu_used (const segq__sched_node_t *node)
{
    return node->cpu_used > 0 ? (uint32_t) node->cpu_used : 0;
}

uint64_t
segq__sched_node_gpu_used (const segq__sched_node_t *node, uint32_t index)
{
    for (size_t i = 0; i < node->n_gpus; i++)
        if (node->gpus [i].index == index)
            return node->gpus [i].used > 0 ? (uint64_t) node->gpus [i].used : 0;
    return 0;
}

static node_gpu_t *
s_node_gpu (segq__sched_node_t *node, int32_t index)
{
    for (size_t i = 0; i < node->n_gpus; i++)
        if ((int64_t) node->gpus [i].index == index)
            return &node->gpus [i];
    return NULL;
}

static void
s_reserve (segq__sched_t *self, segq__sched_job_t *job, segq__sched_node_t *node, int32_t gpu)
{
    job->running = true;
    job->user->running++;
    job->user->gpu_mem += job->gpu_mem;
    if (!(job->started > 0))
        job->started = self->now;
    double weight = segq__sched_job_weight (job);
    job->user->rate += weight;
    job->user->rate_started += weight * job->started;
    s_user_rekey (self, job->user);
    job->node = node;
    job->gpu = -1;
    if (!node)
        return;
    if (job->in_process)
        node->inproc_used++;
    node->cpu_used += job->cpu_slots;
    node_gpu_t *g = job->gpu_mem ? s_node_gpu (node, gpu) : NULL;
    if (g) {
        g->used += (int64_t) job->gpu_mem;
        job->gpu = gpu;
    }
    job->prev = NULL;
    job->next = node->running;
    if (node->running)
        node->running->prev = job;
    node->running = job;
}

void
segq__sched_adopt (segq__sched_t *self, segq__sched_job_t *job, segq__sched_node_t *node,
                   int32_t gpu)
{
    if (job->klass)
        segq__sched_dequeue (self, job);
    if (job->running)
        segq__sched_release (self, job);
    s_reserve (self, job, node, gpu);
}

void
segq__sched_release (segq__sched_t *self, segq__sched_job_t *job)
{
    if (!job->running)
        return;
    segq__sched_node_t *node = job->node;
    if (node) {
        if (job->in_process)
            node->inproc_used--;
        node->cpu_used -= job->cpu_slots;
        node_gpu_t *g = job->gpu >= 0 ? s_node_gpu (node, job->gpu) : NULL;
        if (g)
            g->used -= (int64_t) job->gpu_mem;
        if (job->prev)
            job->prev->next = job->next;
        else
            node->running = job->next;
        if (job->next)
            job->next->prev = job->prev;
    }
    job->prev = job->next = NULL;
    job->node = NULL;
    job->gpu = -1;
    job->running = false;
    segq__sched_user_t *user = job->user;
    user->running--;
    user->gpu_mem -= job->gpu_mem;
    /* what the run used moves from running into the past */
    double weight = segq__sched_job_weight (job);
    double used = weight * (self->now - job->started);
    user->past += used > 0 ? used : 0;
    user->rate -= weight;
    user->rate_started -= weight * job->started;
    if (user->running == 0)
        user->rate = user->rate_started = 0; /* no rounding left over */
    job->started = 0;
    s_user_rekey (self, user);
}

/* ---- fit ---- */

/* Whether the class fits the node now; for a GPU class, *gpu gets the
   best-fitting GPU (least free memory that still holds it). */
static bool
s_fits_now (const segq__sched_class_t *c, segq__sched_node_t *node, node_gpu_t **gpu)
{
    if (!node->accepting || !(node->kinds & (1ULL << c->kind)))
        return false;
    if (c->in_process && node->inproc_used >= node->inproc_window)
        return false;
    if ((int64_t) c->cpu_slots > (int64_t) node->cpu_total - node->cpu_used)
        return false;
    *gpu = NULL;
    if (c->gpu_mem == 0)
        return true;
    for (size_t i = 0; i < node->n_gpus; i++) {
        node_gpu_t *g = &node->gpus [i];
        int64_t free_mem = (int64_t) g->total - g->used;
        if (free_mem >= (int64_t) c->gpu_mem
            && (!*gpu || free_mem < (int64_t) (*gpu)->total - (*gpu)->used))
            *gpu = g;
    }
    return *gpu != NULL;
}

/* Free room on the node as the placement policy sees it: GPU jobs pack
   (least free GPU memory first, keeping big GPUs whole for big jobs);
   CPU and in-process jobs spread (most free room first). */
static int64_t
s_room (const segq__sched_class_t *c, const segq__sched_node_t *node, const node_gpu_t *gpu)
{
    if (gpu)
        return -((int64_t) gpu->total - gpu->used);
    if (c->in_process)
        return (int64_t) node->inproc_window - node->inproc_used;
    return (int64_t) node->cpu_total - node->cpu_used;
}

/* Whether the node holds the model `key` where the class would run: on
   its CPUs, or on a GPU with room for it (then *gpu becomes that GPU). */
static bool
s_hot (const segq__sched_class_t *c, segq__sched_node_t *node, uint64_t key, node_gpu_t **gpu)
{
    for (size_t i = 0; key && i < node->n_hot; i++) {
        if (node->hot [i].key != key || (node->hot [i].gpu < 0) != (c->gpu_mem == 0))
            continue;
        if (c->gpu_mem == 0)
            return true;
        node_gpu_t *g = s_node_gpu (node, node->hot [i].gpu);
        if (g && (int64_t) g->total - g->used >= (int64_t) c->gpu_mem) {
            *gpu = g;
            return true;
        }
    }
    return false;
}

/* Where the class's next job goes: a node that holds its model, else the
   best fit. */
static segq__sched_node_t *
s_place (segq__sched_t *self, const segq__sched_class_t *c, node_gpu_t **gpu_out)
{
    segq__sched_node_t *best = NULL;
    int64_t best_room = 0;
    uint64_t key = c->heap [0]->affinity;
    for (size_t i = 0; i < self->n_nodes; i++) {
        node_gpu_t *gpu;
        if (!s_fits_now (c, self->nodes [i], &gpu))
            continue;
        if (s_hot (c, self->nodes [i], key, &gpu)) {
            *gpu_out = gpu;
            return self->nodes [i];
        }
        int64_t room = s_room (c, self->nodes [i], gpu);
        if (!best || room > best_room) {
            best = self->nodes [i];
            best_room = room;
            *gpu_out = gpu;
        }
    }
    return best;
}

/* Classes found to fit nowhere during one dispatch round. Capacity only
   shrinks during a round, so "fits nowhere" stays true until it ends; and
   it depends on the request, not the user, so one check serves the same
   request of every user. A small open-addressing set; when full, it just
   stops remembering. */
#define NOFIT_SLOTS 256

typedef struct {
    uint64_t gpu_mem;
    uint32_t cpu_slots;
    uint16_t kind;
    uint8_t in_process;
    uint8_t used;
} nofit_t;

typedef struct {
    nofit_t slots [NOFIT_SLOTS];
    size_t count;
} nofit_set_t;

static size_t
s_nofit_slot (const nofit_set_t *set, const segq__sched_class_t *c, bool *found)
{
    uint64_t h = c->gpu_mem * 0x9e3779b97f4a7c15ULL ^ ((uint64_t) c->cpu_slots << 17)
                 ^ ((uint64_t) c->kind << 7) ^ c->in_process;
    size_t at = (size_t) (h ^ (h >> 29)) & (NOFIT_SLOTS - 1);
    while (set->slots [at].used) {
        const nofit_t *n = &set->slots [at];
        if (n->gpu_mem == c->gpu_mem && n->cpu_slots == c->cpu_slots && n->kind == c->kind
            && n->in_process == c->in_process) {
            *found = true;
            return at;
        }
        at = (at + 1) & (NOFIT_SLOTS - 1);
    }
    *found = false;
    return at;
}

static bool
s_nofit_has (const nofit_set_t *set, const segq__sched_class_t *c)
{
    bool found;
    s_nofit_slot (set, c, &found);
    return found;
}

static void
s_nofit_add (nofit_set_t *set, const segq__sched_class_t *c)
{
    bool found;
    size_t at = s_nofit_slot (set, c, &found);
    if (found || set->count >= NOFIT_SLOTS * 3 / 4)
        return;
    set->slots [at] = (nofit_t){ c->gpu_mem, c->cpu_slots, c->kind, c->in_process, 1 };
    set->count++;
}

size_t
segq__sched_dispatch (segq__sched_t *self, size_t max, segq__sched_assign_fn *fn, void *arg)
{
    size_t assigned = 0;
    nofit_set_t nofit;
    nofit.count = 0;
    for (size_t i = 0; i < NOFIT_SLOTS; i++)
        nofit.slots [i].used = 0;
    /* users with nothing that fits now: out of the heap for this round,
       since capacity only shrinks while the round goes on */
    segq__sched_user_t *blocked = NULL;
    while (assigned < max && self->heap_size > 0) {
        segq__sched_user_t *user = self->heap [0];
        segq__sched_class_t *best = NULL;
        segq__sched_node_t *best_node = NULL;
        node_gpu_t *best_gpu = NULL;
        for (size_t i = 0; i < user->n_classes; i++) {
            segq__sched_class_t *c = user->classes [i];
            if ((best && !s_job_before (c->heap [0], best->heap [0])) || s_nofit_has (&nofit, c))
                continue;
            /* over the user's GPU limit: only this user's problem */
            if (c->gpu_mem
                && (user->gpu_mem >= user->limits.max_gpu_mem
                    || c->gpu_mem > user->limits.max_gpu_mem - user->gpu_mem))
                continue;
            node_gpu_t *gpu = NULL;
            segq__sched_node_t *node = s_place (self, c, &gpu);
            if (node) {
                best = c;
                best_node = node;
                best_gpu = gpu;
            } else
                s_nofit_add (&nofit, c);
        }
        if (!best) {
            s_user_remove (self, user);
            user->next_blocked = blocked;
            user->blocked = true;
            blocked = user;
            continue;
        }
        segq__sched_job_t *job = best->heap [0];
        segq__sched_dequeue (self, job);
        user->served = ++self->tick;
        job->started = self->now;
        s_reserve (self, job, best_node, best_gpu ? (int32_t) best_gpu->index : -1);
        fn (arg, job, best_node, job->gpu);
        assigned++;
    }
    while (blocked) {
        segq__sched_user_t *user = blocked;
        blocked = user->next_blocked;
        user->next_blocked = NULL;
        user->blocked = false;
        s_user_rekey (self, user); /* room was there before the round */
    }
    return assigned;
}

bool
segq__sched_runs_kind (const segq__sched_t *self, uint16_t kind)
{
    for (size_t i = 0; i < self->n_nodes; i++)
        if (self->nodes [i]->kinds & (1ULL << kind))
            return true;
    return false;
}

/* Whether a node (one that takes new jobs, if accepting) could hold the
   job when idle. */
static bool
s_fits_total (const segq__sched_t *self, const segq__sched_job_t *job, bool accepting)
{
    for (size_t i = 0; i < self->n_nodes; i++) {
        const segq__sched_node_t *node = self->nodes [i];
        if (!(node->kinds & (1ULL << job->kind)) || job->cpu_slots > node->cpu_total
            || (accepting && !node->accepting))
            continue;
        if (job->gpu_mem == 0)
            return true;
        for (size_t g = 0; g < node->n_gpus; g++)
            if (node->gpus [g].total >= job->gpu_mem)
                return true;
    }
    return false;
}

bool
segq__sched_fits_total (const segq__sched_t *self, const segq__sched_job_t *job)
{
    return s_fits_total (self, job, false);
}

bool
segq__sched_fits_accepting (const segq__sched_t *self, const segq__sched_job_t *job)
{
    return s_fits_total (self, job, true);
}

uint64_t
segq__sched_largest_gpu (const segq__sched_t *self, uint16_t kind)
{
    uint64_t largest = 0;
    for (size_t i = 0; i < self->n_nodes; i++) {
        const segq__sched_node_t *node = self->nodes [i];
        for (size_t g = 0; (node->kinds & (1ULL << kind)) && g < node->n_gpus; g++)
            if (node->gpus [g].total > largest)
                largest = node->gpus [g].total;
    }
    return largest;
}

uint32_t
segq__sched_largest_cpu (const segq__sched_t *self, uint16_t kind)
{
    uint32_t largest = 0;
    for (size_t i = 0; i < self->n_nodes; i++)
        if ((self->nodes [i]->kinds & (1ULL << kind)) && self->nodes [i]->cpu_total > largest)
            largest = self->nodes [i]->cpu_total;
    return largest;
}

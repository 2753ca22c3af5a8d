/*  segq_config.c: the configuration file parser (see segq_config.h).

    Input is untrusted bytes (it is fuzzed). Its lines come from the reader
    segqd.conf shares with slurm-scale.conf (segq_conf_lines.h: bounded,
    split, trimmed, and refused there when they are no "key = value" or
    header); here what they mean. Names are bounded by fixed maxima, and
    the work per line does not depend on how many lines came before (user
    sections are sorted once at the end, which also finds duplicates). */
#include "segq_config.h"
#include "segq_conf_lines.h"
#include "segq_error.h"
#include "segq_records.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX  SEGQ_CONF_KEY_MAX
#define SECTIONS "[defaults], [user NAME] or [kind NAME]"

typedef enum { T_TEXT, T_COUNT, T_SIZE32, T_PERIOD } setting_type_t;

/* Broker settings: segqd's long flag names. */
static const struct {
    const char *key;
    setting_type_t type;
} s_settings [] = {
    { "bind", T_TEXT },
    { "data-dir", T_TEXT },
    { "ready-file", T_TEXT },
    { "keys", T_TEXT },
    { "heartbeat-ms", T_COUNT },
    { "expiry-ms", T_COUNT },
    { "max-msg", T_SIZE32 },
    { "chunk-size", T_SIZE32 },
    { "default-time-limit", T_COUNT },
    { "max-attempts", T_COUNT },
    { "retention", T_PERIOD }, /* 30d, 12h, none */
    { "fairshare-half-life", T_PERIOD },
    /* artifact transfers: what one peer and all of them may hold open */
    { "max-transfers", T_COUNT },
    { "max-transfers-per-peer", T_COUNT },
    { "max-artifact-size", T_TEXT }, /* a size, checked by segqd (64G: 64-bit) */
    /* the HTTP listener: ADDR:PORT, TLS's PEM files, the access tokens (http.h) */
    { "http", T_TEXT },
    { "http-cert", T_TEXT },
    { "http-key", T_TEXT },
    { "http-tokens", T_TEXT },
};
#define N_SETTINGS (sizeof s_settings / sizeof s_settings [0])

/* Per-user limits, in segq_user_limits_t order. */
static const char *const s_limit_keys [] = { "max-running", "max-queued", "max-gpu-mem" };
#define N_LIMITS 3
/* A kind's default resources, in segq_kind_resources_t order. */
static const char *const s_kind_keys [] = { "gpu-mem", "cpu-slots" };
#define N_KIND_KEYS 2

/* The values a section sets: a user's limits, or a kind's resources (the
   first N_KIND_KEYS). */
typedef struct {
    uint64_t value [N_LIMITS];
    int line [N_LIMITS]; /* 0: not set here */
} limits_t;

typedef struct {
    char *name;
    int line;
    limits_t limits;
} user_t;

struct segq_config {
    char *settings [N_SETTINGS];
    int setting_line [N_SETTINGS];
    limits_t defaults;
    int defaults_line;
    user_t *users; /* sorted by name once parsed */
    size_t n_users, cap_users;
    limits_t *kinds; /* [kind NAME] sections, by kind table index; NULL: none */
    int *kind_line;
};

segq_config_t *
segq_config_new (void)
{
    return calloc (1, sizeof (segq_config_t));
}

static void
s_clear (segq_config_t *self)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        free (self->settings [i]);
    for (size_t i = 0; i < self->n_users; i++)
        free (self->users [i].name);
    free (self->users);
    free (self->kinds);
    free (self->kind_line);
    memset (self, 0, sizeof *self);
}

void
segq_config_destroy (segq_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_clear (*self_p);
    free (*self_p);
    *self_p = NULL;
}

/* A key as written, made printable for messages. */
static void
s_printable (char *out, size_t outlen, const char *text, size_t len)
{
    size_t n = len < outlen - 1 ? len : outlen - 1;
    for (size_t i = 0; i < n; i++)
        out [i] = text [i] >= 0x20 && text [i] < 0x7f ? text [i] : '?';
    out [n] = 0;
}

/* The closest known key within a typo's reach, or NULL. */
static const char *
s_suggest (const char *key)
{
    const char *keys [N_SETTINGS + N_LIMITS + N_KIND_KEYS];
    for (size_t i = 0; i < N_SETTINGS + N_LIMITS + N_KIND_KEYS; i++)
        keys [i] = i < N_SETTINGS              ? s_settings [i].key
                   : i < N_SETTINGS + N_LIMITS ? s_limit_keys [i - N_SETTINGS]
                                               : s_kind_keys [i - N_SETTINGS - N_LIMITS];
    return segq_suggest (key, keys, N_SETTINGS + N_LIMITS + N_KIND_KEYS);
}

/* `key` spelled the way the user spells keys ('_' if they used it). */
static void
s_spelled (char *out, size_t outlen, const char *key, bool underscores)
{
    size_t n = strlen (key) < outlen ? strlen (key) : outlen - 1;
    memcpy (out, key, n);
    out [n] = 0;
    for (char *p = out; underscores && *p; p++)
        if (*p == '-')
            *p = '_';
}

/* Decimal digits only, at most max. */
static bool
s_count (const char *value, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*value)
        return false;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (max - (uint64_t) (*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t) (*p - '0');
    }
    *out = v;
    return true;
}

static int
s_user_compare (const void *a, const void *b)
{
    const user_t *ua = a, *ub = b;
    int c = strcmp (ua->name, ub->name);
    return c ? c : ua->line - ub->line;
}

/* The one rule for a user's name (a certificate's, a token's). */
static bool
s_valid_user (const char *name, size_t len)
{
    char copy [SEGQ_USER_MAX + 1];
    if (len >= sizeof copy)
        return false;
    memcpy (copy, name, len);
    copy [len] = 0;
    return segq_user_valid (copy);
}

/* [kind NAME]: the section of the kind `name` (len bytes), or NULL with
   the error said. */
static limits_t *
s_kind_section (segq_config_t *cfg, segq_conf_lines_t *r, int line, const char *name, size_t len,
                bool *oom)
{
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    size_t k = 0;
    while (k < count
           && !(strlen (kinds [k].name) == len && memcmp (kinds [k].name, name, len) == 0))
        k++;
    if (k == count) {
        char shown [KEY_MAX + 2];
        s_printable (shown, sizeof shown, name, len);
        const char *near = segq_kind_name_suggest (shown);
        segq_conf_lines_error (r, line, "unknown job kind '%s'%s%s%s", shown,
                               near ? " (did you mean " : "", near ? near : "",
                               near ? "?)" : " (see `segq submit --help`)");
        return NULL;
    }
    if (kinds [k].in_process) {
        segq_conf_lines_error (r, line,
                               "kind %s runs inside the worker and takes no resources: it has no "
                               "[kind] section",
                               kinds [k].name);
        return NULL;
    }
    if (!cfg->kinds) {
        cfg->kinds = calloc (count, sizeof *cfg->kinds);
        cfg->kind_line = calloc (count, sizeof *cfg->kind_line);
        if (!cfg->kinds || !cfg->kind_line) {
            *oom = true;
            return NULL;
        }
    }
    if (cfg->kind_line [k]) {
        segq_conf_lines_error (r, line,
                               "[kind %s] again (first on line %d): give each kind one section",
                               kinds [k].name, cfg->kind_line [k]);
        return NULL;
    }
    cfg->kind_line [k] = line;
    return &cfg->kinds [k];
}

/* Whether the header (trimmed) is "WORD NAME"; *name gets NAME. */
static bool
s_named (const char *header, const char *word, const char **name, size_t *name_len)
{
    size_t word_len = strlen (word);
    size_t blanks = strspn (header + word_len, " \t");
    if (strncmp (header, word, word_len) != 0 || !blanks || !header [word_len + blanks])
        return false;
    *name = header + word_len + blanks;
    *name_len = strlen (*name);
    return true;
}

static limits_t *
s_defaults_section (segq_config_t *cfg, segq_conf_lines_t *r, int line)
{
    if (cfg->defaults_line) {
        segq_conf_lines_error (r, line, "[defaults] again (first on line %d): give each key once",
                               cfg->defaults_line);
        return NULL;
    }
    cfg->defaults_line = line;
    return &cfg->defaults;
}

/* Appends a user section; NULL when out of memory. Duplicates are found
   once all are read (s_parse). */
static user_t *
s_add_user (segq_config_t *cfg, int line, const char *name, size_t len)
{
    if (cfg->n_users == cfg->cap_users) {
        size_t cap = cfg->cap_users ? cfg->cap_users * 2 : 8;
        user_t *users = realloc (cfg->users, cap * sizeof *users);
        if (!users)
            return NULL;
        cfg->users = users;
        cfg->cap_users = cap;
    }
    user_t *user = &cfg->users [cfg->n_users];
    memset (user, 0, sizeof *user);
    if (!(user->name = strndup (name, len)))
        return NULL;
    user->line = line;
    cfg->n_users++;
    return user;
}

/* [user NAME]: the limits of the user `name` (len bytes), or NULL with
   the error said. */
static limits_t *
s_user_section (segq_config_t *cfg, segq_conf_lines_t *r, int line, const char *name, size_t len,
                bool *oom)
{
    if (!s_valid_user (name, len)) {
        char shown [SEGQ_USER_MAX + 2];
        s_printable (shown, sizeof shown, name, len);
        segq_conf_lines_error (
            r, line, "user name '%s' is not valid: a user name is " SEGQ_USER_RULE, shown);
        return NULL;
    }
    user_t *user = s_add_user (cfg, line, name, len);
    if (!user) {
        *oom = true;
        return NULL;
    }
    return &user->limits;
}

/* The section a header begins (its inside, trimmed; NULL: a header the
   reader refused). Returns the values the following lines set (*kind: a
   kind's resources, else limits), or NULL while outside any (then *bad is
   set). */
static limits_t *
s_section (segq_config_t *cfg, segq_conf_lines_t *r, int line, const char *header, bool *bad,
           bool *kind, bool *oom)
{
    const char *name = NULL;
    size_t name_len = 0;
    limits_t *section;
    *kind = false;
    if (!header)
        section = NULL;
    else if (strcmp (header, "defaults") == 0)
        section = s_defaults_section (cfg, r, line);
    else if (s_named (header, "user", &name, &name_len))
        section = s_user_section (cfg, r, line, name, name_len, oom);
    else if (s_named (header, "kind", &name, &name_len)) {
        section = s_kind_section (cfg, r, line, name, name_len, oom);
        *kind = section != NULL;
    } else {
        char shown [KEY_MAX + 2];
        s_printable (shown, sizeof shown, header, strlen (header));
        segq_conf_lines_error (r, line, "unknown section '[%s]': expected " SECTIONS, shown);
        section = NULL;
    }
    *bad = section == NULL;
    return section;
}

/* A "key = value" line and what its key is. */
typedef struct {
    char key [KEY_MAX + 1]; /* '_' read as '-' */
    const char *shown;      /* as written */
    bool underscores;       /* written with '_' */
    const char *value;
    size_t value_len;
    int setting, limit, resource; /* its index in one of the tables, else -1 */
} assignment_t;

/* The line's key spelled as the tables spell it (the reader checked its
   characters and length). */
static void
s_key (const segq_conf_line_t *l, assignment_t *a)
{
    size_t n = strlen (l->key);
    for (size_t i = 0; i < n; i++) {
        a->underscores |= l->key [i] == '_';
        a->key [i] = l->key [i] == '_' ? '-' : l->key [i];
    }
    a->key [n] = 0;
    a->shown = l->key;
    a->value = l->value;
    a->value_len = strlen (l->value);
}

static void
s_lookup (assignment_t *a)
{
    a->setting = a->limit = a->resource = -1;
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp (a->key, s_settings [i].key) == 0)
            a->setting = (int) i;
    for (int i = 0; i < N_LIMITS; i++)
        if (strcmp (a->key, s_limit_keys [i]) == 0)
            a->limit = i;
    for (int i = 0; i < N_KIND_KEYS; i++)
        if (strcmp (a->key, s_kind_keys [i]) == 0)
            a->resource = i;
}

static void
s_unknown_key (segq_conf_lines_t *r, int line, const assignment_t *a)
{
    /* suggestions cost an edit distance per known key: only for the
       errors that will be shown */
    const char *near =
        segq_conf_lines_errors (r) < SEGQ_CONF_ERRORS_SHOWN ? s_suggest (a->key) : NULL;
    char spelled [KEY_MAX + 1];
    if (near) {
        s_spelled (spelled, sizeof spelled, near, a->underscores);
        segq_conf_lines_error (r, line, "unknown key '%s' (did you mean %s?)", a->shown, spelled);
    } else
        segq_conf_lines_error (
            r, line, "unknown key '%s' (see docs/usage.md: broker configuration)", a->shown);
}

/* Whether the key is a known one, where it belongs (`section`, `in_kind`
   as s_assignment has them); false with the error said. */
static bool
s_in_place (segq_conf_lines_t *r, int line, assignment_t *a, const limits_t *section, bool in_kind)
{
    s_lookup (a);
    if (a->setting < 0 && a->limit < 0 && a->resource < 0) {
        s_unknown_key (r, line, a);
        return false;
    }
    if (a->setting >= 0 && section) {
        segq_conf_lines_error (
            r, line, "'%s' is a broker setting: put it before the first [section]", a->shown);
        return false;
    }
    if (a->limit >= 0 && (!section || in_kind)) {
        segq_conf_lines_error (
            r, line, "'%s' is a per-user limit: put it under [defaults] or [user NAME]", a->shown);
        return false;
    }
    if (a->resource >= 0 && !in_kind) {
        segq_conf_lines_error (
            r, line, "'%s' is a kind's default resource: put it under [kind NAME]", a->shown);
        return false;
    }
    return true;
}

/* The value (as the reader gave it: not empty, no control character but
   tabs) checked for what the key takes, a number read into *number: NULL,
   or what was expected instead. */
static const char *
s_check_value (const assignment_t *a, uint64_t *number)
{
    const char *v = a->value;
    bool ok = true;
    const char *expected = NULL;
    if (a->setting >= 0) {
        setting_type_t type = s_settings [a->setting].type;
        if (type == T_COUNT) {
            ok = s_count (v, UINT32_MAX, number);
            expected = "a whole number (0-4294967295)";
        } else if (type == T_SIZE32) {
            ok = segq_parse_size (v, number) == 0 && *number <= UINT32_MAX;
            expected = "a size under 4G, e.g. 4M";
        } else if (type == T_PERIOD) {
            double seconds;
            ok = segq_parse_period (v, &seconds) == 0;
            expected = "an age with its unit (30d, 12h, 90m, 3600s) or 'none'";
        }
    } else if (a->resource == 0) {
        ok = segq_parse_size (v, number) == 0 && *number > 0;
        expected = "a size of GPU memory, e.g. 8G";
    } else if (a->resource == 1) {
        ok = s_count (v, 4096, number) && *number > 0;
        expected = "a number of CPU slots (1-4096)";
    } else if (strcmp (v, "unlimited") == 0)
        *number = SEGQ_UNLIMITED;
    else if (a->limit == 2) {
        ok = segq_parse_size (v, number) == 0 && *number != SEGQ_UNLIMITED;
        expected = "a size (e.g. 24G) or 'unlimited'";
    } else {
        ok = s_count (v, UINT32_MAX, number);
        expected = "a whole number or 'unlimited'";
    }
    return ok ? NULL : expected;
}

/* One "key = value" line. `section` is NULL before the first section
   header (broker settings), a kind's resources with `in_kind`, and
   `in_bad` after a header that was refused (its keys are not checked
   again). */
static void
s_assignment (segq_config_t *cfg, segq_conf_lines_t *r, const segq_conf_line_t *l,
              limits_t *section, bool in_kind, bool in_bad, bool *oom)
{
    assignment_t a;
    memset (&a, 0, sizeof a);
    s_key (l, &a);
    if (in_bad || !s_in_place (r, l->line, &a, section, in_kind))
        return;
    int slot = a.limit >= 0 ? a.limit : a.resource;
    int *first = a.setting >= 0 ? &cfg->setting_line [a.setting] : &section->line [slot];
    if (*first) {
        segq_conf_lines_error (r, l->line, "'%s' again (first on line %d): give each key once",
                               a.shown, *first);
        return;
    }
    uint64_t number = 0;
    const char *expected = s_check_value (&a, &number);
    if (expected) {
        char shown_value [KEY_MAX + 2];
        s_printable (shown_value, sizeof shown_value, a.value, a.value_len);
        segq_conf_lines_error (r, l->line, "%s = '%s%s': expected %s", a.shown, shown_value,
                               a.value_len > KEY_MAX ? "..." : "", expected);
        return;
    }
    *first = l->line;
    if (a.setting >= 0 && !(cfg->settings [a.setting] = strdup (a.value)))
        *oom = true;
    else if (a.setting < 0)
        section->value [slot] = number;
}

static int
s_parse (segq_config_t *cfg, segq_conf_lines_t *r)
{
    limits_t *section = NULL;
    bool in_bad = false, in_kind = false, oom = false;
    segq_conf_line_t l;
    while (!oom && segq_conf_lines_next (r, &l))
        if (!l.key)
            section = s_section (cfg, r, l.line, l.section, &in_bad, &in_kind, &oom);
        else
            s_assignment (cfg, r, &l, section, in_kind, in_bad && !section, &oom);
    if (oom)
        return SEGQ_ENOMEM;
    if (cfg->n_users > 1) {
        qsort (cfg->users, cfg->n_users, sizeof *cfg->users, s_user_compare);
        for (size_t i = 1; i < cfg->n_users; i++)
            if (strcmp (cfg->users [i].name, cfg->users [i - 1].name) == 0)
                segq_conf_lines_error (r, cfg->users [i].line,
                                       "[user %s] again (first on line %d): give each "
                                       "user one section",
                                       cfg->users [i].name, cfg->users [i - 1].line);
    }
    return segq_conf_lines_end (r) ? SEGQ_EINVAL : 0;
}

int
segq_config_parse (segq_config_t *self, const char *name, const char *text, size_t len, char *err,
                   size_t errlen)
{
    segq_config_t parsed;
    memset (&parsed, 0, sizeof parsed);
    segq_conf_lines_t r;
    segq_conf_lines_init (&r, name, text, len, SECTIONS, err, errlen);
    int rc = s_parse (&parsed, &r);
    if (rc == SEGQ_ENOMEM && err && errlen)
        snprintf (err, errlen, "%s: out of memory while reading it", r.name);
    if (rc) {
        s_clear (&parsed);
        return rc;
    }
    s_clear (self);
    *self = parsed;
    return 0;
}

int
segq_config_load (segq_config_t *self, const char *path, char *err, size_t errlen)
{
    char *text;
    size_t len;
    int rc = segq_conf_read_file (path, SEGQ_CONFIG_MAX_BYTES, &text, &len, err, errlen);
    if (rc == 0)
        rc = segq_config_parse (self, path, text, len, err, errlen);
    free (text);
    return rc;
}

static int
s_setting_index (const char *key)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp (key, s_settings [i].key) == 0)
            return (int) i;
    return -1;
}

const char *
segq_config_setting (const segq_config_t *self, const char *key)
{
    int i = s_setting_index (key);
    return i >= 0 ? self->settings [i] : NULL;
}

size_t
segq_config_settings_changed (const segq_config_t *before, const segq_config_t *now, char *out,
                              size_t len)
{
    size_t changed = 0, used = 0;
    if (len)
        *out = 0;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *a = before ? before->settings [i] : NULL;
        const char *b = now ? now->settings [i] : NULL;
        if ((a == NULL) == (b == NULL) && (!a || strcmp (a, b) == 0))
            continue;
        int n = snprintf (out + used, len > used ? len - used : 0, "%s%s", changed ? ", " : "",
                          s_settings [i].key);
        used += n > 0 ? (size_t) n : 0;
        changed++;
    }
    return changed;
}

segq_user_limits_t
segq_config_limits (const segq_config_t *self, const char *user)
{
    const user_t *found = NULL;
    size_t lo = 0, hi = self->n_users;
    while (user && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp (user, self->users [mid].name);
        if (c == 0) {
            found = &self->users [mid];
            break;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    uint64_t v [N_LIMITS];
    for (int i = 0; i < N_LIMITS; i++)
        v [i] = found && found->limits.line [i] ? found->limits.value [i]
                : self->defaults.line [i]       ? self->defaults.value [i]
                                                : SEGQ_UNLIMITED;
    return (segq_user_limits_t){ v [0], v [1], v [2] };
}

segq_kind_resources_t
segq_config_kind_resources (const segq_config_t *self, const char *kind)
{
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    const segq_kind_spec_t *found = segq_kind_find (kind);
    const limits_t *set = self && self->kinds && found ? &self->kinds [found - kinds] : NULL;
    uint64_t gpu_mem = set && set->line [0] ? set->value [0] : 0;
    uint64_t cpu_slots = set && set->line [1] ? set->value [1] : gpu_mem ? 0 : 1;
    return (segq_kind_resources_t){ gpu_mem, (uint32_t) cpu_slots };
}

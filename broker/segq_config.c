/*  segq_config.c: the configuration file parser (see segq_config.h).

    Input is untrusted bytes (it is fuzzed): every line is bounded by the
    buffer, keys and names by fixed maxima, and the work per line does not
    depend on how many lines came before (user sections are sorted once at
    the end, which also finds duplicates). */
#include "segq_config.h"
#include "segq_error.h"
#include "segq_records.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX      64 /* longer keys are unknown (and not compared) */
#define ERRORS_SHOWN 20

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

/* Error messages, one per line, the first ERRORS_SHOWN of them. */
typedef struct {
    const char *name;
    char *buf;
    size_t len, cap;
    size_t count;
} errors_t;

static void
s_error (errors_t *e, int line, const char *fmt, ...)
{
    e->count++;
    if (e->count > ERRORS_SHOWN || !e->buf || e->len + 1 >= e->cap)
        return;
    char message [512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, sizeof message, fmt, ap);
    va_end (ap);
    int n = snprintf (e->buf + e->len, e->cap - e->len, "%s%s:%d: %s", e->len ? "\n" : "", e->name,
                      line, message);
    e->len = n > 0 && (size_t) n < e->cap - e->len ? e->len + (size_t) n : e->cap - 1;
}

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

static bool
s_blank (char c)
{
    return c == ' ' || c == '\t';
}

static bool
s_valid_text (const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) value [i] < 0x20 || value [i] == 0x7f)
            return false;
    return len > 0;
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
s_kind_section (segq_config_t *cfg, errors_t *e, int line, const char *name, size_t len, bool *oom)
{
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    const char *names [64];
    size_t k = 0;
    for (size_t i = 0; i < count && i < 64; i++)
        names [i] = kinds [i].name;
    while (k < count
           && !(strlen (kinds [k].name) == len && memcmp (kinds [k].name, name, len) == 0))
        k++;
    if (k == count) {
        char shown [KEY_MAX + 2];
        s_printable (shown, sizeof shown, name, len);
        const char *near = segq_suggest (shown, names, count < 64 ? count : 64);
        s_error (e, line, "unknown job kind '%s'%s%s%s", shown, near ? " (did you mean " : "",
                 near ? near : "", near ? "?)" : " (see `segq submit --help`)");
        return NULL;
    }
    if (kinds [k].in_process) {
        s_error (e, line,
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
        s_error (e, line, "[kind %s] again (first on line %d): give each kind one section",
                 kinds [k].name, cfg->kind_line [k]);
        return NULL;
    }
    cfg->kind_line [k] = line;
    return &cfg->kinds [k];
}

static void
s_trim (const char **text, size_t *len)
{
    while (*len && s_blank (**text))
        (*text)++, (*len)--;
    while (*len && s_blank ((*text) [*len - 1]))
        (*len)--;
}

/* Whether the header (trimmed) is "WORD NAME"; *name gets NAME, trimmed. */
static bool
s_named (const char *header, size_t len, const char *word, const char **name, size_t *name_len)
{
    size_t word_len = strlen (word);
    if (len <= word_len + 1 || memcmp (header, word, word_len) != 0 || !s_blank (header [word_len]))
        return false;
    *name = header + word_len + 1;
    *name_len = len - word_len - 1;
    s_trim (name, name_len);
    return true;
}

static limits_t *
s_defaults_section (segq_config_t *cfg, errors_t *e, int line)
{
    if (cfg->defaults_line) {
        s_error (e, line, "[defaults] again (first on line %d): give each key once",
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
s_user_section (segq_config_t *cfg, errors_t *e, int line, const char *name, size_t len, bool *oom)
{
    if (!s_valid_user (name, len)) {
        char shown [SEGQ_USER_MAX + 2];
        s_printable (shown, sizeof shown, name, len);
        s_error (e, line, "user name '%s' is not valid: a user name is " SEGQ_USER_RULE, shown);
        return NULL;
    }
    user_t *user = s_add_user (cfg, line, name, len);
    if (!user) {
        *oom = true;
        return NULL;
    }
    return &user->limits;
}

/* A section header line, "[...]" already trimmed. Returns the values the
   following lines set (*kind: a kind's resources, else limits), or NULL
   while outside any (then *bad is set). */
static limits_t *
s_section (segq_config_t *cfg, errors_t *e, int line, const char *text, size_t len, bool *bad,
           bool *kind, bool *oom)
{
    *bad = true;
    *kind = false;
    if (len < 2 || text [len - 1] != ']') {
        s_error (e, line,
                 "a section header ends with ']': expected [defaults], [user NAME] or "
                 "[kind NAME]");
        return NULL;
    }
    const char *in = text + 1, *name = NULL;
    size_t n = len - 2, name_len = 0;
    s_trim (&in, &n);
    limits_t *section;
    if (n == 8 && memcmp (in, "defaults", 8) == 0)
        section = s_defaults_section (cfg, e, line);
    else if (s_named (in, n, "user", &name, &name_len))
        section = s_user_section (cfg, e, line, name, name_len, oom);
    else if (s_named (in, n, "kind", &name, &name_len)) {
        section = s_kind_section (cfg, e, line, name, name_len, oom);
        *kind = section != NULL;
    } else {
        char shown [KEY_MAX + 2];
        s_printable (shown, sizeof shown, text, len);
        s_error (e, line, "unknown section '%s': expected [defaults], [user NAME] or [kind NAME]",
                 shown);
        return NULL;
    }
    *bad = section == NULL;
    return section;
}

/* A "key = value" line, split, and what its key is. */
typedef struct {
    char key [KEY_MAX + 1];   /* '_' read as '-' */
    char shown [KEY_MAX + 2]; /* as written, made printable */
    bool underscores;         /* written with '_' */
    const char *value;        /* trimmed, value_len bytes */
    size_t value_len;
    int setting, limit, resource; /* its index in one of the tables, else -1 */
} assignment_t;

/* The key, spelled as the tables spell it; false with the error said when
   it is not one. */
static bool
s_key (errors_t *e, int line, const char *text, size_t key_len, assignment_t *a)
{
    bool valid = key_len <= KEY_MAX;
    for (size_t i = 0; valid && i < key_len; i++) {
        char c = text [i];
        a->underscores |= c == '_';
        a->key [i] = c == '_' ? '-' : c;
        valid = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }
    if (!valid) {
        s_error (e, line, "'%s' is not a key: keys are lowercase letters, digits, '-' and '_'",
                 a->shown);
        return false;
    }
    a->key [key_len] = 0;
    return true;
}

/* Splits the line at its '=' into key and value, trimmed; false with the
   error said when it has no '=' or no valid key. */
static bool
s_split (errors_t *e, int line, const char *text, size_t len, assignment_t *a)
{
    const char *eq = memchr (text, '=', len);
    if (!eq) {
        s_error (e, line, "expected 'key = value', '[section]' or a '#' comment");
        return false;
    }
    size_t key_len = (size_t) (eq - text);
    while (key_len && s_blank (text [key_len - 1]))
        key_len--;
    a->value = eq + 1;
    a->value_len = len - (size_t) (a->value - text);
    s_trim (&a->value, &a->value_len);
    s_printable (a->shown, sizeof a->shown, text, key_len);
    if (key_len == 0) {
        s_error (e, line, "a key is missing before '='");
        return false;
    }
    if (!s_key (e, line, text, key_len, a))
        return false;
    /* taken into the value, a comment would name another folder or fail
       its check with a puzzling message */
    const char *hash = memchr (a->value, '#', a->value_len);
    if (hash && (hash == a->value || s_blank (hash [-1]))) {
        s_error (e, line,
                 "a comment after the value of '%s': put '#' comments on a line of their own",
                 a->shown);
        return false;
    }
    /* quotes would be part of the value: data_dir = "/srv/segq" named a
       folder '"' under the working directory */
    if (a->value_len >= 2 && (a->value [0] == '"' || a->value [0] == '\'')
        && a->value [a->value_len - 1] == a->value [0]) {
        s_error (e, line, "%s = %.*s: values are not quoted (write %s = %.*s)", a->shown,
                 (int) a->value_len, a->value, a->shown, (int) a->value_len - 2, a->value + 1);
        return false;
    }
    return true;
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
s_unknown_key (errors_t *e, int line, const assignment_t *a)
{
    /* suggestions cost an edit distance per known key: only for the
       errors that will be shown */
    const char *near = e->count < ERRORS_SHOWN ? s_suggest (a->key) : NULL;
    char spelled [KEY_MAX + 1];
    if (near) {
        s_spelled (spelled, sizeof spelled, near, a->underscores);
        s_error (e, line, "unknown key '%s' (did you mean %s?)", a->shown, spelled);
    } else
        s_error (e, line, "unknown key '%s' (see docs/usage.md: broker configuration)", a->shown);
}

/* Whether the key is a known one, where it belongs (`section`, `in_kind`
   as s_assignment has them); false with the error said. */
static bool
s_in_place (errors_t *e, int line, assignment_t *a, const limits_t *section, bool in_kind)
{
    s_lookup (a);
    if (a->setting < 0 && a->limit < 0 && a->resource < 0) {
        s_unknown_key (e, line, a);
        return false;
    }
    if (a->setting >= 0 && section) {
        s_error (e, line, "'%s' is a broker setting: put it before the first [section]", a->shown);
        return false;
    }
    if (a->limit >= 0 && (!section || in_kind)) {
        s_error (e, line, "'%s' is a per-user limit: put it under [defaults] or [user NAME]",
                 a->shown);
        return false;
    }
    if (a->resource >= 0 && !in_kind) {
        s_error (e, line, "'%s' is a kind's default resource: put it under [kind NAME]", a->shown);
        return false;
    }
    return true;
}

/* The value (v: a's, NUL-terminated) checked for what the key takes, a
   number read into *number: NULL, or what was expected instead. */
static const char *
s_check_value (const assignment_t *a, const char *v, uint64_t *number)
{
    bool ok = s_valid_text (v, a->value_len);
    const char *expected = "a value without control characters";
    if (a->setting >= 0) {
        setting_type_t type = s_settings [a->setting].type;
        if (ok && type == T_COUNT) {
            ok = s_count (v, UINT32_MAX, number);
            expected = "a whole number (0-4294967295)";
        } else if (ok && type == T_SIZE32) {
            ok = segq_parse_size (v, number) == 0 && *number <= UINT32_MAX;
            expected = "a size under 4G, e.g. 4M";
        } else if (ok && type == T_PERIOD) {
            double seconds;
            ok = segq_parse_period (v, &seconds) == 0;
            expected = "an age with its unit (30d, 12h, 90m, 3600s) or 'none'";
        }
    } else if (a->resource == 0) {
        ok = ok && segq_parse_size (v, number) == 0 && *number > 0;
        expected = "a size of GPU memory, e.g. 8G";
    } else if (a->resource == 1) {
        ok = ok && s_count (v, 4096, number) && *number > 0;
        expected = "a number of CPU slots (1-4096)";
    } else if (ok && strcmp (v, "unlimited") == 0)
        *number = SEGQ_UNLIMITED;
    else if (ok && a->limit == 2) {
        ok = segq_parse_size (v, number) == 0 && *number != SEGQ_UNLIMITED;
        expected = "a size (e.g. 24G) or 'unlimited'";
    } else if (ok) {
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
s_assignment (segq_config_t *cfg, errors_t *e, int line, const char *text, size_t len,
              limits_t *section, bool in_kind, bool in_bad, bool *oom)
{
    assignment_t a;
    memset (&a, 0, sizeof a);
    if (!s_split (e, line, text, len, &a) || in_bad || !s_in_place (e, line, &a, section, in_kind))
        return;
    int slot = a.limit >= 0 ? a.limit : a.resource;
    int *first = a.setting >= 0 ? &cfg->setting_line [a.setting] : &section->line [slot];
    if (*first) {
        s_error (e, line, "'%s' again (first on line %d): give each key once", a.shown, *first);
        return;
    }
    char *v = strndup (a.value, a.value_len);
    if (!v) {
        *oom = true;
        return;
    }
    uint64_t number = 0;
    const char *expected = s_check_value (&a, v, &number);
    if (expected) {
        char shown_value [KEY_MAX + 2];
        s_printable (shown_value, sizeof shown_value, a.value, a.value_len);
        s_error (e, line, "%s = '%s%s': expected %s", a.shown, shown_value,
                 a.value_len > KEY_MAX ? "..." : "", expected);
        free (v);
        return;
    }
    *first = line;
    if (a.setting >= 0)
        cfg->settings [a.setting] = v;
    else {
        section->value [slot] = number;
        free (v);
    }
}

static int
s_parse (segq_config_t *cfg, errors_t *e, const char *text, size_t len)
{
    limits_t *section = NULL;
    bool in_bad = false, in_kind = false, oom = false;
    int line = 0;
    char buf [4096];
    /* a UTF-8 byte-order mark (Windows editors write one) is no key's part */
    if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    for (size_t at = 0; at < len && !oom;) {
        line++;
        const char *nl = memchr (text + at, '\n', len - at);
        size_t line_len = (nl ? (size_t) (nl - text) : len) - at;
        const char *start = text + at;
        at += line_len + (nl != NULL);
        if (line_len && start [line_len - 1] == '\r')
            line_len--;
        if (memchr (start, 0, line_len)) {
            s_error (e, line, "NUL byte: this is not a text file");
            continue;
        }
        s_trim (&start, &line_len);
        if (line_len == 0 || *start == '#')
            continue;
        if (line_len >= sizeof buf) {
            s_error (e, line, "line longer than %zu bytes", sizeof buf - 1);
            continue;
        }
        memcpy (buf, start, line_len);
        buf [line_len] = 0;
        if (buf [0] == '[') {
            section = s_section (cfg, e, line, buf, line_len, &in_bad, &in_kind, &oom);
            continue;
        }
        s_assignment (cfg, e, line, buf, line_len, section, in_kind, in_bad && !section, &oom);
    }
    if (oom)
        return SEGQ_ENOMEM;
    if (cfg->n_users > 1) {
        qsort (cfg->users, cfg->n_users, sizeof *cfg->users, s_user_compare);
        for (size_t i = 1; i < cfg->n_users; i++)
            if (strcmp (cfg->users [i].name, cfg->users [i - 1].name) == 0)
                s_error (e, cfg->users [i].line,
                         "[user %s] again (first on line %d): give each "
                         "user one section",
                         cfg->users [i].name, cfg->users [i - 1].line);
    }
    if (e->count > ERRORS_SHOWN && e->buf && e->cap > e->len + 1)
        snprintf (e->buf + e->len, e->cap - e->len, "\n%s: ... and %zu more", e->name,
                  e->count - ERRORS_SHOWN);
    return e->count ? SEGQ_EINVAL : 0;
}

int
segq_config_parse (segq_config_t *self, const char *name, const char *text, size_t len, char *err,
                   size_t errlen)
{
    if (err && errlen)
        err [0] = 0;
    segq_config_t parsed;
    memset (&parsed, 0, sizeof parsed);
    errors_t e = { name ? name : "config", err, 0, err ? errlen : 0, 0 };
    int rc = s_parse (&parsed, &e, text, len);
    if (rc == SEGQ_ENOMEM && err && errlen)
        snprintf (err, errlen, "%s: out of memory while reading it", e.name);
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
    FILE *file = fopen (path, "rb");
    if (!file) {
        snprintf (err, errlen, "cannot read config file %s: %s", path, strerror (errno));
        return errno == ENOENT ? SEGQ_ENOENT : SEGQ_EIO;
    }
    char *text = malloc (SEGQ_CONFIG_MAX_BYTES + 1);
    size_t len = text ? fread (text, 1, SEGQ_CONFIG_MAX_BYTES + 1, file) : 0;
    int rc = 0;
    if (!text)
        rc = SEGQ_ENOMEM;
    else if (ferror (file)) {
        snprintf (err, errlen, "cannot read config file %s: %s", path, strerror (errno));
        rc = SEGQ_EIO;
    } else if (len > SEGQ_CONFIG_MAX_BYTES) {
        snprintf (err, errlen, "config file %s is over %u bytes: is it the right file?", path,
                  SEGQ_CONFIG_MAX_BYTES);
        rc = SEGQ_ETOOBIG;
    }
    fclose (file);
    if (rc == 0)
        rc = segq_config_parse (self, path, text, len, err, errlen);
    else if (rc == SEGQ_ENOMEM)
        snprintf (err, errlen, "out of memory reading %s", path);
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

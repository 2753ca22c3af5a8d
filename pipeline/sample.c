/* segq-run sample: draws an endoscopy-like picture with a polyp-like blob
 * and its exact mask (see sample.h for what is drawn and the mask's rule). */
#include "sample.h"

#include "segq_error.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define O(f) offsetof(segq_sample_opts_t, f)

static const segq_flag_t sample_flags[] = {
    {"out", SEGQ_FLAG_STRING, NULL, 0, 0, NULL,
     "output directory: image.png + mask.png, or images/ + masks/ when --count > 1", O(out)},
    {"seed", SEGQ_FLAG_INT, "0", 0, 9007199254740991.0, NULL,
     "random seed: the same seed and size give the same bytes (sample I of --count uses "
     "seed + I)",
     O(seed)},
    {"size", SEGQ_FLAG_STRING, "320x256", 0, 0, NULL, "WIDTHxHEIGHT in pixels, 32 to 4096 each",
     O(size)},
    {"count", SEGQ_FLAG_INT, "1", 1, 100000, NULL,
     "samples to draw; more than 1 writes a Kvasir-SEG layout dataset", O(count)},
};

const segq_command_t segq_sample_command = {
    "sample",
    "segq-run sample --out DIR [--seed N] [--size WxH] [--count N]",
    "draw a procedural endoscopy-like image with a polyp-like blob and its mask (no patient data)",
    sample_flags,
    sizeof sample_flags / sizeof sample_flags[0],
    NULL};

/* ---- deterministic randomness: no libc rand(), so bytes match everywhere */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double uniform(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

static double between(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * uniform(state);
}

/* Lattice value in [0, 1) for integer point (ix, iy) of one noise layer. */
static double lattice(uint64_t key, int64_t ix, int64_t iy)
{
    uint64_t s =
        key ^ ((uint64_t)ix * 0x8CB92BA72F3D8DD7ull) ^ ((uint64_t)iy * 0xD6E8FEB86659FD93ull);
    return uniform(&s);
}

static double smooth(double t)
{
    return t * t * (3.0 - 2.0 * t);
}

static double value_noise(uint64_t key, double x, double y)
{
    double fx = floor(x), fy = floor(y);
    int64_t ix = (int64_t)fx, iy = (int64_t)fy;
    double tx = smooth(x - fx), ty = smooth(y - fy);
    double a = lattice(key, ix, iy), b = lattice(key, ix + 1, iy);
    double c = lattice(key, ix, iy + 1), d = lattice(key, ix + 1, iy + 1);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}

/* Fractal noise in [0, 1]: octaves of value noise, each twice as fine. */
static double fbm(uint64_t key, double x, double y, int octaves)
{
    double sum = 0, amp = 0.5, norm = 0;
    for (int o = 0; o < octaves; o++) {
        sum += amp * value_noise(key + (uint64_t)o * 0x632BE59BD9B4E019ull, x, y);
        norm += amp;
        amp *= 0.5;
        x *= 2.0;
        y *= 2.0;
    }
    return sum / norm;
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static double mix(double a, double b, double t)
{
    return a + (b - a) * t;
}

/* Blob radius towards theta (the formula of sample.h). */
static double blob_radius(const segq_sample_blob_t *b, double theta)
{
    double r = 1.0;
    for (int k = 0; k < SEGQ_SAMPLE_HARMONICS; k++)
        r += b->amp[k] * cos((k + 2) * theta + b->phase[k]);
    return b->radius * r;
}

int segq_sample_blob_contains(const segq_sample_blob_t *b, double x, double y)
{
    double dx = x - b->cx, dy = y - b->cy;
    return sqrt(dx * dx + dy * dy) <= blob_radius(b, atan2(dy, dx));
}

/* ---- layers ------------------------------------------------------------ */

typedef struct {
    uint32_t w, h;
    float *vessel; /* darkening strength per pixel, [0, 1] */
    float *shine;  /* specular highlight strength per pixel, >= 1 is white */
} canvas_t;

/* Stamps a soft disc into a layer (keeps the maximum). */
static void stamp(const canvas_t *c, float *layer, double x, double y, double rx, double ry,
                  double strength)
{
    int x0 = (int)floor(x - 2 * rx), x1 = (int)ceil(x + 2 * rx);
    int y0 = (int)floor(y - 2 * ry), y1 = (int)ceil(y + 2 * ry);
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > (int)c->w - 1)
        x1 = (int)c->w - 1;
    if (y1 > (int)c->h - 1)
        y1 = (int)c->h - 1;
    for (int py = y0; py <= y1; py++)
        for (int px = x0; px <= x1; px++) {
            double u = (px + 0.5 - x) / rx, v = (py + 0.5 - y) / ry;
            float s = (float)(strength * exp(-(u * u + v * v)));
            float *p = layer + (size_t)py * c->w + (size_t)px;
            if (s > *p)
                *p = s;
        }
}

/* A vessel: a random walk that bends slowly, thins out and sometimes
 * branches (depth-limited). */
static void vessel(const canvas_t *c, uint64_t *rng, double x, double y, double angle, double width,
                   int steps, int depth)
{
    double strength = between(rng, 0.45, 0.8);
    double turn = 0;
    for (int i = 0; i < steps; i++) {
        turn = 0.9 * turn + between(rng, -0.03, 0.03);
        angle += turn;
        x += 1.2 * cos(angle);
        y += 1.2 * sin(angle);
        if (x < -10 || y < -10 || x > c->w + 10 || y > c->h + 10)
            return;
        stamp(c, c->vessel, x, y, width, width, strength);
        width *= 0.997;
        if (depth < 2 && uniform(rng) < 0.012) {
            double side = uniform(rng) < 0.5 ? -1 : 1;
            vessel(c, rng, x, y, angle + side * between(rng, 0.5, 1.1), width * 0.7, steps - i,
                   depth + 1);
        }
    }
}

/* mkdir -p, 0700 (a demo's paths may be several levels deep). */
static int mkdir_out(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "output path too long: %.200s...", dir);
        return SEGQ_EINVAL;
    }
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
            return SEGQ_EIO;
        }
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return SEGQ_EIO;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a directory", dir);
        return SEGQ_EIO;
    }
    return 0;
}

/* Digits only (no sign, no blanks), stopping at the first non-digit. */
static const char *parse_side(const char *p, unsigned long *v)
{
    *v = 0;
    if (*p < '0' || *p > '9')
        return NULL;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((*v = *v * 10 + (unsigned long)(*p - '0')) > SEGQ_SAMPLE_MAX_SIDE * 10ul)
            *v = SEGQ_SAMPLE_MAX_SIDE * 10ul; /* far too big; keeps counting from overflowing */
    return p;
}

int segq_sample_parse_size(const char *text, uint32_t *width, uint32_t *height, char *err,
                           size_t errlen)
{
    unsigned long w = 0, h = 0;
    const char *p = text ? parse_side(text, &w) : NULL;
    if (p && (*p == 'x' || *p == 'X'))
        p = parse_side(p + 1, &h);
    else
        p = NULL;
    if (!p || *p) {
        snprintf(err, errlen, "--size '%s': expected WIDTHxHEIGHT, e.g. 320x256", text ? text : "");
        return SEGQ_EINVAL;
    }
    if (w < SEGQ_SAMPLE_MIN_SIDE || h < SEGQ_SAMPLE_MIN_SIDE || w > SEGQ_SAMPLE_MAX_SIDE
        || h > SEGQ_SAMPLE_MAX_SIDE) {
        snprintf(err, errlen, "--size '%s': each side must be %d to %d pixels", text,
                 SEGQ_SAMPLE_MIN_SIDE, SEGQ_SAMPLE_MAX_SIDE);
        return SEGQ_EINVAL;
    }
    *width = (uint32_t)w;
    *height = (uint32_t)h;
    return 0;
}

/* ---- the picture ------------------------------------------------------- */

/* What a sample is painted with, drawn from its seed. */
typedef struct {
    segq_sample_blob_t b;
    double lx, ly;    /* from the polyp towards the light, unit length */
    double half_diag; /* from the light to a corner */
    double muc[3], pol[3];
    uint64_t tex_key, fold_key, pol_key, noise_key;
    double tex_scale, fold_scale;
} scene_t;

static const double vessel_colour[3] = {0.45, 0.08, 0.14};

static void pick_polyp(scene_t *sc, uint64_t *rng, uint32_t w, uint32_t h, double side)
{
    /* the polyp: somewhere central, 12-22% of the shorter side, lobed */
    segq_sample_blob_t *b = &sc->b;
    b->cx = between(rng, 0.3, 0.7) * w;
    b->cy = between(rng, 0.3, 0.7) * h;
    b->radius = between(rng, 0.12, 0.22) * side;
    for (int k = 0; k < SEGQ_SAMPLE_HARMONICS; k++) {
        b->amp[k] = between(rng, -0.12, 0.12) / (k + 1);
        b->phase[k] = between(rng, 0, 2 * M_PI);
    }
    /* the endoscope's light sits at the image centre */
    double lx = w / 2.0 - b->cx, ly = h / 2.0 - b->cy, ll = sqrt(lx * lx + ly * ly);
    sc->lx = ll > 1e-9 ? lx / ll : -0.7071;
    sc->ly = ll > 1e-9 ? ly / ll : -0.7071;
    sc->half_diag = sqrt((double)w * w + (double)h * h) / 2;
}

static void pick_colours(scene_t *sc, uint64_t *rng)
{
    /* colours: mucosa, polyp, vessels, with a little per-sample variety */
    double tint = between(rng, -0.05, 0.05);
    sc->muc[0] = 0.82 + tint;
    sc->muc[1] = 0.40 + tint * 0.5;
    sc->muc[2] = 0.36;
    sc->pol[0] = 0.92;
    sc->pol[1] = 0.50 + between(rng, -0.06, 0.06);
    sc->pol[2] = 0.47 + between(rng, -0.05, 0.05);
    sc->tex_key = splitmix64(rng);
    sc->fold_key = splitmix64(rng);
    sc->pol_key = splitmix64(rng);
    sc->noise_key = splitmix64(rng);
    sc->tex_scale = between(rng, 0.025, 0.04);
    sc->fold_scale = between(rng, 0.008, 0.014);
}

static void draw_vessels(const canvas_t *c, uint64_t *rng, double side)
{
    int n_vessels = 5 + (int)(uniform(rng) * 7);
    for (int i = 0; i < n_vessels; i++)
        vessel(c, rng, between(rng, 0, c->w), between(rng, 0, c->h), between(rng, 0, 2 * M_PI),
               between(rng, 0.5, 1.8) * side / 256.0, (int)(between(rng, 0.4, 1.2) * side), 0);
}

/* highlights: a few on the polyp's lit side (wet surface), a few on the
   mucosa */
static void draw_highlights(const canvas_t *c, uint64_t *rng, const scene_t *sc, double side)
{
    const segq_sample_blob_t *b = &sc->b;
    int n_pol = 2 + (int)(uniform(rng) * 4);
    for (int i = 0; i < n_pol; i++) {
        double t = between(rng, 0.2, 0.6), j = between(rng, -0.35, 0.35);
        double sx = b->cx + b->radius * (t * sc->lx - j * sc->ly),
               sy = b->cy + b->radius * (t * sc->ly + j * sc->lx);
        double r = between(rng, 0.01, 0.03) * side;
        /* above 1: a saturated core with a soft halo */
        stamp(c, c->shine, sx, sy, r * between(rng, 1, 2.2), r, between(rng, 1.2, 2.0));
    }
    int n_muc = 3 + (int)(uniform(rng) * 6);
    for (int i = 0; i < n_muc; i++) {
        double r = between(rng, 0.004, 0.015) * side;
        stamp(c, c->shine, between(rng, 0, c->w), between(rng, 0, c->h), r * between(rng, 1, 3), r,
              between(rng, 0.6, 1.4));
    }
}

/* The mucosa at (px, py): fractal texture plus darker ridge-like folds.
 * Returns its shade. */
static double paint_mucosa(const scene_t *sc, double px, double py, double col[3])
{
    double t = fbm(sc->tex_key, px * sc->tex_scale, py * sc->tex_scale, 5);
    double f = fbm(sc->fold_key, px * sc->fold_scale, py * sc->fold_scale, 3);
    double fold = 1 - fabs(2 * f - 1); /* ridges where f crosses 0.5 */
    double shade = 0.72 + 0.5 * (t - 0.5) - 0.28 * pow(fold, 6);
    for (int k = 0; k < 3; k++)
        col[k] = sc->muc[k] * shade * (k == 0 ? 1.0 : 0.9 + 0.2 * t);
    return shade;
}

/* The polyp over the mucosa at (px, py), or its shadow; returns whether
 * (px, py) is on the polyp. */
static int paint_polyp(const scene_t *sc, double px, double py, double col[3])
{
    const segq_sample_blob_t *b = &sc->b;
    double dx = px - b->cx, dy = py - b->cy, d = sqrt(dx * dx + dy * dy);
    double rb = blob_radius(b, atan2(dy, dx));
    int inside = segq_sample_blob_contains(b, px, py);
    double shadow = rb * 0.15 > 2.5 ? rb * 0.15 : 2.5;
    if (inside) {
        /* dome: brighter towards the middle and the light */
        double q = d / rb, z = sqrt(1 - (q > 1 ? 1 : q * q));
        double lit = (dx * sc->lx + dy * sc->ly) / rb;
        double pt = fbm(sc->pol_key, px * sc->tex_scale * 2.5, py * sc->tex_scale * 2.5, 4);
        double s = 0.55 + 0.35 * z + 0.15 * lit + 0.4 * (pt - 0.5);
        /* the last pixel or so blends into the mucosa, as a real edge does */
        double edge = clamp01((rb - d) / 1.5);
        for (int k = 0; k < 3; k++)
            col[k] = mix(col[k] * 0.8, sc->pol[k] * s, 0.5 + 0.5 * edge);
    } else if (d < rb + shadow) {
        /* the shadow the polyp throws on the wall around it */
        double u = (d - rb) / shadow;
        for (int k = 0; k < 3; k++)
            col[k] *= 0.62 + 0.38 * u;
    }
    return inside;
}

/* Pixel (x, y) of the image and of the mask. */
static void paint_pixel(const scene_t *sc, const canvas_t *c, uint32_t x, uint32_t y, uint8_t *rgb,
                        uint8_t *mk)
{
    double px = x + 0.5, py = y + 0.5;
    size_t i = (size_t)y * c->w + x;
    double col[3];
    double shade = paint_mucosa(sc, px, py, col);
    int inside = paint_polyp(sc, px, py, col);
    mk[i] = inside ? 255 : 0;

    double v = c->vessel[i] * (inside ? 0.35 : 1.0); /* vessels fade on the polyp */
    for (int k = 0; k < 3; k++)
        col[k] = mix(col[k], vessel_colour[k] * shade, v * 0.75);
    /* vignetting: the light falls off towards the corners */
    double rho = sqrt((px - c->w / 2.0) * (px - c->w / 2.0) + (py - c->h / 2.0) * (py - c->h / 2.0))
                 / sc->half_diag;
    double vig = 1 - 0.75 * pow(rho, 2.4);
    double sh = c->shine[i] > 1 ? 1 : c->shine[i];
    uint64_t ns = sc->noise_key ^ (uint64_t)i * 0x9E3779B97F4A7C15ull;
    double noise = (uniform(&ns) + uniform(&ns) + uniform(&ns) - 1.5) * 0.02;
    for (int k = 0; k < 3; k++) {
        double val = mix(col[k] * vig, 0.98, sh) + noise;
        rgb[3 * i + (size_t)k] = (uint8_t)lround(255 * clamp01(val));
    }
}

static void canvas_free(canvas_t *c)
{
    free(c->vessel);
    free(c->shine);
}

int segq_sample_draw(uint64_t seed, uint32_t w, uint32_t h, segq_image_t **image,
                     segq_image_t **mask, segq_sample_blob_t *blob_out, char *err, size_t errlen)
{
    *image = NULL;
    *mask = NULL;
    if (w < SEGQ_SAMPLE_MIN_SIDE || h < SEGQ_SAMPLE_MIN_SIDE || w > SEGQ_SAMPLE_MAX_SIDE
        || h > SEGQ_SAMPLE_MAX_SIDE) {
        snprintf(err, errlen, "sample size %ux%u: each side must be %d to %d pixels", w, h,
                 SEGQ_SAMPLE_MIN_SIDE, SEGQ_SAMPLE_MAX_SIDE);
        return SEGQ_EINVAL;
    }
    uint64_t rng = seed ^ 0x5E6D5A3B1C2F4E01ull;
    canvas_t c = {w, h, calloc((size_t)w * h, sizeof(float)), calloc((size_t)w * h, sizeof(float))};
    segq_image_t *img = segq_image_new(w, h, 3, 8), *m = segq_image_new(w, h, 1, 8);
    if (!c.vessel || !c.shine || !img || !m) {
        canvas_free(&c);
        segq_image_destroy(&img);
        segq_image_destroy(&m);
        snprintf(err, errlen, "sample %ux%u: out of memory", w, h);
        return SEGQ_ENOMEM;
    }
    double side = w < h ? w : h;
    scene_t sc;
    pick_polyp(&sc, &rng, w, h, side);
    pick_colours(&sc, &rng);
    draw_vessels(&c, &rng, side);
    draw_highlights(&c, &rng, &sc, side);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            paint_pixel(&sc, &c, x, y, img->data, m->data);
    canvas_free(&c);
    *image = img;
    *mask = m;
    if (blob_out)
        *blob_out = sc.b;
    return 0;
}

static int write_pair(uint64_t seed, uint32_t w, uint32_t h, const char *image_path,
                      const char *mask_path, char *err, size_t errlen)
{
    segq_image_t *img = NULL, *m = NULL;
    int rc = segq_sample_draw(seed, w, h, &img, &m, NULL, err, errlen);
    if (!rc)
        rc = segq_image_write_png(img, image_path, err, errlen);
    if (!rc)
        rc = segq_image_write_png(m, mask_path, err, errlen);
    segq_image_destroy(&img);
    segq_image_destroy(&m);
    return rc;
}

int segq_sample_run(const segq_sample_opts_t *o, char *err, size_t errlen)
{
    uint32_t w, h;
    int rc = segq_sample_parse_size(o->size, &w, &h, err, errlen);
    if (rc)
        return rc;
    if ((rc = mkdir_out(o->out, err, errlen)))
        return rc;
    size_t len = strlen(o->out) + 64;
    char *a = malloc(len), *b = malloc(len);
    if (!a || !b) {
        free(a);
        free(b);
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    if (o->count == 1) {
        snprintf(a, len, "%s/image.png", o->out);
        snprintf(b, len, "%s/mask.png", o->out);
        rc = write_pair((uint64_t)o->seed, w, h, a, b, err, errlen);
    } else {
        snprintf(a, len, "%s/images", o->out);
        snprintf(b, len, "%s/masks", o->out);
        rc = mkdir_out(a, err, errlen);
        if (!rc)
            rc = mkdir_out(b, err, errlen);
        /* names sort in drawing order: --count is at most 100000 */
        const char *image_fmt =
            o->count <= 1000 ? "%s/images/sample-%03d.png" : "%s/images/sample-%05d.png";
        const char *mask_fmt =
            o->count <= 1000 ? "%s/masks/sample-%03d.png" : "%s/masks/sample-%05d.png";
        for (int64_t i = 0; !rc && i < o->count; i++) {
            snprintf(a, len, image_fmt, o->out, (int)i);
            snprintf(b, len, mask_fmt, o->out, (int)i);
            rc = write_pair((uint64_t)o->seed + (uint64_t)i, w, h, a, b, err, errlen);
        }
    }
    if (!rc)
        printf("sample: %" PRId64 " %ux%u image/mask pair%s in %s\n", o->count, w, h,
               o->count == 1 ? "" : "s", o->out);
    free(a);
    free(b);
    return rc;
}

/* Bar chart and example strip with cairo. */
#include "chart.h"

#include "segq_error.h"
#include "segq_image.h"

#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Colour-blind-safe palette (Okabe-Ito). */
static const double palette[][3] = {{0.00, 0.45, 0.70}, {0.90, 0.62, 0.00}, {0.00, 0.62, 0.45},
                                    {0.80, 0.47, 0.65}, {0.34, 0.71, 0.91}, {0.84, 0.37, 0.00},
                                    {0.94, 0.89, 0.26}, {0.40, 0.40, 0.40}};
#define N_COLOURS (sizeof palette / sizeof palette[0])

/* The surface as an RGB PNG written by segq_image (0600, atomic). */
static int save(cairo_surface_t *s, const char *path, char *err, size_t errlen)
{
    cairo_surface_flush(s);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    segq_image_t *img = data ? segq_image_new((uint32_t)w, (uint32_t)h, 3, 8) : NULL;
    if (!img) {
        snprintf(err, errlen, "%s: out of memory drawing the picture", path);
        return SEGQ_ENOMEM;
    }
    uint8_t *out = img->data;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t px;
            memcpy(&px, data + (size_t)y * (size_t)stride + 4 * (size_t)x, 4);
            uint8_t *o = out + 3 * ((size_t)y * (size_t)w + (size_t)x);
            o[0] = (uint8_t)(px >> 16);
            o[1] = (uint8_t)(px >> 8);
            o[2] = (uint8_t)px;
        }
    int rc = segq_image_write_png(img, path, err, errlen);
    segq_image_destroy(&img);
    return rc;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align, double valign)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - align * e.width - e.x_bearing, y - valign * e.height - e.y_bearing);
    cairo_show_text(cr, s);
}

/* A white page to draw on, its font set. */
static cairo_t *blank_page(cairo_surface_t *s, double font_size)
{
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, font_size);
    return cr;
}

/* Where a bar chart's plot lies on its surface. */
typedef struct {
    double left, top, plot_w, plot_h, bar_w, group_gap;
} bars_layout_t;

static double y_of(const bars_layout_t *l, double v)
{
    return l->top + l->plot_h * (1 - v);
}

/* The value axis (0 to 1) with its ticks and grid, and the base line. */
static void draw_axes(cairo_t *cr, const bars_layout_t *l)
{
    cairo_set_line_width(cr, 1);
    for (int t = 0; t <= 5; t++) {
        double v = t / 5.0, y = y_of(l, v);
        char label[16];
        snprintf(label, sizeof label, "%.1f", v);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, l->left, y);
        cairo_line_to(cr, l->left + l->plot_w, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, l->left - 8, y, label, 1.0, 0.5);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, l->left, l->top);
    cairo_line_to(cr, l->left, l->top + l->plot_h);
    cairo_line_to(cr, l->left + l->plot_w, l->top + l->plot_h);
    cairo_stroke(cr);
}

/* One bar at x in series k's colour, clipped to [0, 1], with a +-sd error
 * bar when sd is known. */
static void draw_bar(cairo_t *cr, const bars_layout_t *l, double x, int k, double m, double sd)
{
    double v = m < 0 ? 0 : m > 1 ? 1 : m;
    const double *c = palette[(size_t)k % N_COLOURS];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_rectangle(cr, x, y_of(l, v), l->bar_w - 2, l->plot_h * v);
    cairo_fill(cr);
    if (!isfinite(sd) || sd <= 0)
        return;
    double lo = y_of(l, fmax(0, m - sd)), hi = y_of(l, fmin(1, m + sd)),
           cx = x + (l->bar_w - 2) / 2;
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, cx, lo);
    cairo_line_to(cr, cx, hi);
    cairo_move_to(cr, cx - 4, lo);
    cairo_line_to(cr, cx + 4, lo);
    cairo_move_to(cr, cx - 4, hi);
    cairo_line_to(cr, cx + 4, hi);
    cairo_stroke(cr);
}

/* Each series' colour and name, right of the plot. */
static void draw_legend(cairo_t *cr, const bars_layout_t *l, const char *const *series, int nseries)
{
    for (int k = 0; k < nseries; k++) {
        double y = l->top + 10 + k * 22, x = l->left + l->plot_w + 20;
        const double *c = palette[(size_t)k % N_COLOURS];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_rectangle(cr, x, y - 7, 14, 14);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, x + 20, y, series[k], 0.0, 0.5);
    }
}

int segq_chart_bars(const char *path, const char *title, const char *const *groups, int ngroups,
                    const char *const *series, int nseries, const double *mean, const double *std,
                    char *err, size_t errlen)
{
    if (ngroups < 1 || nseries < 1) {
        snprintf(err, errlen, "%s: nothing to draw", path);
        return SEGQ_EINVAL;
    }
    const double bottom = 60, legend_w = 190;
    bars_layout_t l = {.left = 70, .top = 50, .bar_w = 18};
    /* wide enough for the longest metric name under a group */
    l.group_gap = nseries * l.bar_w + 26 < 96 ? 96 - nseries * l.bar_w : 26;
    l.plot_w = ngroups * (nseries * l.bar_w + l.group_gap);
    int W = (int)(l.left + l.plot_w + legend_w + 20), H = 440;
    l.plot_h = H - l.top - bottom;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = blank_page(s, 13);
    draw_axes(cr, &l);
    for (int g = 0; g < ngroups; g++) {
        double x0 = l.left + l.group_gap / 2 + g * (nseries * l.bar_w + l.group_gap);
        for (int k = 0; k < nseries; k++)
            if (isfinite(mean[k * ngroups + g]))
                draw_bar(cr, &l, x0 + k * l.bar_w, k, mean[k * ngroups + g], std[k * ngroups + g]);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, x0 + nseries * l.bar_w / 2, l.top + l.plot_h + 10, groups[g], 0.5, 0.0);
    }
    draw_legend(cr, &l, series, nseries);
    cairo_set_font_size(cr, 16);
    text_at(cr, W / 2.0, 18, title, 0.5, 0.5);
    cairo_set_font_size(cr, 12);
    text_at(cr, l.left + l.plot_w / 2, H - 14, "mean over folds, error bars: +-1 std", 0.5, 0.5);
    int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? 0 : SEGQ_EINTERNAL;
    if (rc)
        snprintf(err, errlen, "%s: cairo: %s", path, cairo_status_to_string(cairo_status(cr)));
    else
        rc = save(s, path, err, errlen);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return rc;
}

/* Paints an s x s tile from planes (1 channel: grey, 3: RGB). */
static void tile(cairo_surface_t *surf, int x0, int y0, int s, const float *planes, int channels,
                 int threshold)
{
    unsigned char *data = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    size_t n = (size_t)s * (size_t)s;
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++) {
            size_t i = (size_t)y * (size_t)s + (size_t)x;
            uint32_t rgb[3];
            for (int c = 0; c < 3; c++) {
                float v = planes[(channels == 3 ? (size_t)c * n : 0) + i];
                if (threshold)
                    v = v > 0.5f ? 1.0f : 0.0f;
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                rgb[c] = (uint32_t)lrintf(v * 255.0f);
            }
            uint32_t px = 0xff000000u | rgb[0] << 16 | rgb[1] << 8 | rgb[2];
            memcpy(data + (size_t)(y0 + y) * (size_t)stride + 4 * (size_t)(x0 + x), &px, 4);
        }
}

int segq_chart_examples(const char *path, int rows, int size, const float *images,
                        const float *truth, const char *const *series, int nseries,
                        const float *preds, char *err, size_t errlen)
{
    if (rows < 1 || size < 1) {
        snprintf(err, errlen, "%s: no examples to draw", path);
        return SEGQ_EINVAL;
    }
    const int pad = 6, head = 26, cols = 2 + nseries;
    int cell = size < 96 ? 96 : size; /* small inputs are shown enlarged */
    int W = pad + cols * (cell + pad), H = head + rows * (cell + pad) + pad;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_surface_t *t = cairo_image_surface_create(CAIRO_FORMAT_RGB24, size, size);
    cairo_t *cr = blank_page(s, 12);
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int c = 0; c < cols; c++) {
        const char *label = c == 0 ? "image" : c == 1 ? "truth" : series[c - 2];
        text_at(cr, pad + c * (cell + pad) + cell / 2.0, head / 2.0, label, 0.5, 0.5);
    }
    size_t n = (size_t)size * (size_t)size;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            cairo_surface_flush(t);
            if (c == 0)
                tile(t, 0, 0, size, images + (size_t)r * 3 * n, 3, 0);
            else if (c == 1)
                tile(t, 0, 0, size, truth + (size_t)r * n, 1, 0);
            else
                tile(t, 0, 0, size, preds + ((size_t)(c - 2) * (size_t)rows + (size_t)r) * n, 1, 1);
            cairo_surface_mark_dirty(t);
            cairo_save(cr);
            cairo_translate(cr, pad + c * (cell + pad), head + r * (cell + pad));
            cairo_scale(cr, (double)cell / size, (double)cell / size);
            cairo_set_source_surface(cr, t, 0, 0);
            cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
            cairo_paint(cr);
            cairo_restore(cr);
        }
    int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? 0 : SEGQ_EINTERNAL;
    if (rc)
        snprintf(err, errlen, "%s: cairo: %s", path, cairo_status_to_string(cairo_status(cr)));
    else
        rc = save(s, path, err, errlen);
    cairo_destroy(cr);
    cairo_surface_destroy(t);
    cairo_surface_destroy(s);
    return rc;
}

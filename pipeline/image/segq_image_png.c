/* PNG decoding and encoding with libpng. libpng reports errors by
 * longjmp: everything allocated is reachable from a context struct that
 * outlives the setjmp frame, so an error path frees it all. */
#include "segq_image_internal.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const unsigned char *buf;
    size_t len, pos;
    int truncated;
    char msg[200];
    segq_image_t *img;
    png_bytep *rows;
    const char *name;
    const segq_image_limits_t *limits;
    char *err;
    size_t errlen;
    int refused; /* a limit's code, err already said why */
} png_ctx_t;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx_t *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* Ancillary-chunk complaints do not make an image unusable. */
}

static void read_fn(png_structp png, png_bytep out, size_t n)
{
    png_ctx_t *ctx = png_get_io_ptr(png);
    if (n > ctx->len - ctx->pos) {
        ctx->truncated = 1;
        png_error(png, "file ends early");
    }
    memcpy(out, ctx->buf + ctx->pos, n);
    ctx->pos += n;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Runs every libpng call that may longjmp; returns 0 or -1 (see ctx). */
static int decode(png_structp png, png_infop info, png_ctx_t *ctx)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_read_fn(png, ctx, read_fn);
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    /* Palette to RGB(A), grey below 8 bits to 8, tRNS to an alpha channel. */
    if (color == PNG_COLOR_TYPE_PALETTE || depth < 8 || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_expand(png);
    if (depth == 16 && host_is_little_endian())
        png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (channels < 1 || channels > 4 || (out_depth != 8 && out_depth != 16))
        png_error(png, "unexpected pixel layout after expansion");
    /* the layout is known and no pixel read yet: the memory it takes */
    segq__image_plan_t plan = {w, h, (uint64_t)w * h * (uint64_t)channels * (out_depth / 8)};
    ctx->refused = segq__image_check_size(ctx->name, &plan, ctx->limits, ctx->err, ctx->errlen);
    if (ctx->refused)
        return -1;
    ctx->img = segq_image_new(w, h, channels, out_depth);
    ctx->rows = malloc(sizeof(png_bytep) * h);
    if (!ctx->img || !ctx->rows)
        png_error(png, "out of memory");
    size_t stride = (size_t)w * channels * (out_depth / 8);
    if (png_get_rowbytes(png, info) != stride)
        png_error(png, "unexpected row size");
    for (uint32_t y = 0; y < h; y++)
        ctx->rows[y] = (png_bytep)ctx->img->data + stride * y;
    png_read_image(png, ctx->rows);
    png_read_end(png, NULL);
    return 0;
}

int segq__image_read_png(const unsigned char *buf, size_t len, const char *name,
                         const segq_image_limits_t *limits, segq_image_t **out, char *err,
                         size_t errlen)
{
    /* IHDR must be the first chunk: check the declared size ourselves, so
     * a 0x0 or huge image gets its own error before libpng allocates. */
    if (len < 24)
        return segq_fail(err, errlen, SEGQ_ECORRUPT, "%s: PNG ends before its header (%zu bytes)",
                         name, len);
    if (memcmp(buf + 12, "IHDR", 4) != 0)
        return segq_fail(err, errlen, SEGQ_ECORRUPT, "%s: corrupt PNG: first chunk is not IHDR",
                         name);
    uint32_t w = be32(buf + 16), h = be32(buf + 20);
    int rc = segq__image_check_size(name, &(segq__image_plan_t){w, h, 0}, limits, err, errlen);
    if (rc)
        return rc;

    png_ctx_t ctx = {.buf = buf,
                     .len = len,
                     .pos = 0,
                     .name = name,
                     .limits = limits,
                     .err = err,
                     .errlen = errlen};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return segq_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
    }
    /* Only IHDR, PLTE, tRNS, IDAT and IEND matter here: every other chunk
     * (text, ICC profile, ...) is skipped unparsed, which keeps their
     * decoders and decompression out of reach of hostile files. */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
#ifdef SEGQ_FUZZING
    /* Let the fuzzer reach the decoder instead of failing checksums. */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
    if (decode(png, info, &ctx)) {
        segq_image_destroy(&ctx.img);
        rc = ctx.refused ? ctx.refused
             : ctx.truncated
                 ? segq_fail(err, errlen, SEGQ_ECORRUPT, "%s: truncated PNG: file ends early", name)
                 : segq_fail(err, errlen,
                             strcmp(ctx.msg, "out of memory") == 0 ? SEGQ_ENOMEM : SEGQ_ECORRUPT,
                             "%s: corrupt PNG: %s", name, ctx.msg);
    } else {
        *out = ctx.img;
    }
    free(ctx.rows);
    png_destroy_read_struct(&png, &info, NULL);
    return rc;
}

/* ---- Writing ----------------------------------------------------------- */

typedef struct {
    char msg[200];
    png_bytep *rows;
} png_wctx_t;

static void on_write_error(png_structp png, png_const_charp msg)
{
    png_wctx_t *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static int encode(png_structp png, png_infop info, png_wctx_t *ctx, FILE *fp,
                  const segq_image_t *img)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_init_io(png, fp);
    png_set_IHDR(png, info, img->width, img->height, img->depth, types[img->channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (img->depth == 16 && host_is_little_endian())
        png_set_swap(png);
    size_t stride = (size_t)img->width * img->channels * (img->depth / 8);
    ctx->rows = malloc(sizeof(png_bytep) * img->height);
    if (!ctx->rows)
        png_error(png, "out of memory");
    for (uint32_t y = 0; y < img->height; y++)
        ctx->rows[y] = (png_bytep)img->data + stride * y;
    png_write_image(png, ctx->rows);
    png_write_end(png, NULL);
    return 0;
}

int segq_image_write_png(const segq_image_t *img, const char *path, char *err, size_t errlen)
{
    if (!path || !img || !img->data || !img->width || !img->height || img->channels < 1
        || img->channels > 4 || (img->depth != 8 && img->depth != 16))
        return segq_fail(err, errlen, SEGQ_EINVAL, "%s: cannot write an invalid image",
                         path ? path : "(null)");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return segq_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!fp) {
        int rc = segq_fail(err, errlen, SEGQ_EIO, "%s: cannot create: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return rc;
    }
    png_wctx_t ctx = {{0}, NULL};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_write_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = 0;
    if (!info)
        rc = segq_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", path);
    else if (encode(png, info, &ctx, fp, img))
        rc = segq_fail(err, errlen, SEGQ_EIO, "%s: PNG encoding failed: %s", path, ctx.msg);
    png_destroy_write_struct(&png, &info);
    free(ctx.rows);
    if (fflush(fp) || fsync(fileno(fp))) {
        if (!rc)
            rc = segq_fail(err, errlen, SEGQ_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    if (fclose(fp) && !rc)
        rc = segq_fail(err, errlen, SEGQ_EIO, "%s: write failed: %s", path, strerror(errno));
    /* mkstemp makes 0600 files; outputs derived from patient data stay private. */
    if (!rc && rename(tmp, path))
        rc = segq_fail(err, errlen, SEGQ_EIO, "%s: cannot move into place: %s", path,
                       strerror(errno));
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* JPEG decoding with libjpeg-turbo, at full size. Its default error
 * manager exits the process and its memory source pads a truncated file
 * with a fake end marker; both are replaced so that errors and truncation
 * come back as codes through a longjmp to a frame that frees everything. */
#include "segq_image_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* A progressive file can ask for any number of passes over the whole
 * image; real encoders use about ten. */
#define MAX_SCANS 256

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    int code;
    const char *what; /* the kind of failure, for the message */
    char msg[JMSG_LENGTH_MAX];
    segq_image_t *img;
    struct jpeg_progress_mgr progress; /* counts the scans: on_progress */
} jpeg_ctx_t;

/* Leaves decode() through its setjmp with a code and the kind of failure:
 * several kinds share ECORRUPT, the message tells them apart. */
_Noreturn static void jump(jpeg_ctx_t *ctx, int code, const char *what)
{
    ctx->code = code;
    ctx->what = what;
    longjmp(ctx->jmp, 1);
}

static void on_error(j_common_ptr cinfo)
{
    jpeg_ctx_t *ctx = (jpeg_ctx_t *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, ctx->msg);
    switch (cinfo->err->msg_code) {
    case JERR_EMPTY_IMAGE:
        jump(ctx, SEGQ_ECORRUPT, "empty JPEG");
    case JERR_BAD_PRECISION:
    case JERR_CONVERSION_NOTIMPL:
        jump(ctx, SEGQ_EUNSUPPORTED, "JPEG");
    case JERR_OUT_OF_MEMORY:
        jump(ctx, SEGQ_ENOMEM, "JPEG");
    case JERR_IMAGE_TOO_BIG:
        jump(ctx, SEGQ_ETOOBIG, "JPEG too large");
    default:
        jump(ctx, SEGQ_ECORRUPT, "corrupt JPEG");
    }
}

static void on_message(j_common_ptr cinfo, int level)
{
    jpeg_ctx_t *ctx = (jpeg_ctx_t *)cinfo->err;
    /* The memory source reports the end of data as a warning and carries on
     * with grey: for us that is a truncated file. Other warnings (extra
     * bytes before a marker, ...) are common in real files and harmless. */
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        snprintf(ctx->msg, sizeof ctx->msg, "file ends early");
        jump(ctx, SEGQ_ECORRUPT, "truncated JPEG");
    }
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_ctx_t *ctx = (jpeg_ctx_t *)cinfo->err;
        snprintf(ctx->msg, sizeof ctx->msg, "more than %d progressive scans", MAX_SCANS);
        jump(ctx, SEGQ_ECORRUPT, "corrupt JPEG");
    }
}

/* Memory the decoding takes: the output, and when the file has several
 * scans (progressive) the coefficients of every block of the image (2
 * bytes each), which libjpeg holds while it decodes. */
static uint64_t decode_bytes(struct jpeg_decompress_struct *cinfo, int channels)
{
    uint64_t bytes = (uint64_t)cinfo->output_width * cinfo->output_height * (uint64_t)channels;
    if (jpeg_has_multiple_scans(cinfo))
        for (int c = 0; c < cinfo->num_components; c++)
            bytes += (uint64_t)cinfo->comp_info[c].width_in_blocks
                     * cinfo->comp_info[c].height_in_blocks * DCTSIZE2 * sizeof(JCOEF);
    return bytes;
}

/* Runs every libjpeg call that may longjmp; 0 or a negative code. */
static int decode(struct jpeg_decompress_struct *cinfo, jpeg_ctx_t *ctx, const unsigned char *buf,
                  size_t len, const char *name, const segq_image_limits_t *limits, char *err,
                  size_t errlen)
{
    if (setjmp(ctx->jmp))
        return ctx->code;
    jpeg_create_decompress(cinfo);
    /* after jpeg_create_decompress, which zeroes everything but err */
    ctx->progress.progress_monitor = on_progress;
    cinfo->progress = &ctx->progress;
    jpeg_mem_src(cinfo, buf, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);
    int channels;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        return segq_fail(err, errlen, SEGQ_EUNSUPPORTED,
                         "%s: CMYK JPEG is not supported: convert it to RGB", name);
    default:
        cinfo->out_color_space = JCS_RGB;
        channels = 3;
    }
    /* the output size (at the default scale, the declared size), known
     * before jpeg_start_decompress allocates */
    jpeg_calc_output_dimensions(cinfo);
    segq__image_plan_t plan = {cinfo->output_width, cinfo->output_height,
                               decode_bytes(cinfo, channels)};
    int rc = segq__image_check_size(name, &plan, limits, err, errlen);
    if (rc)
        return rc;
    jpeg_start_decompress(cinfo);
    if (cinfo->output_components != channels)
        return segq_fail(err, errlen, SEGQ_EUNSUPPORTED,
                         "%s: JPEG with %d components is not supported", name,
                         cinfo->output_components);
    ctx->img = segq_image_new(cinfo->output_width, cinfo->output_height, channels, 8);
    if (!ctx->img)
        return segq_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", name);
    size_t stride = (size_t)cinfo->output_width * channels;
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = (JSAMPROW)ctx->img->data + stride * cinfo->output_scanline;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            return segq_fail(err, errlen, SEGQ_ECORRUPT,
                             "%s: corrupt JPEG: decoder returned no row", name);
    }
    jpeg_finish_decompress(cinfo);
    return 0;
}

int segq__image_read_jpeg(const unsigned char *buf, size_t len, const char *name,
                          const segq_image_limits_t *limits, segq_image_t **out, char *err,
                          size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&ctx.mgr);
    ctx.mgr.error_exit = on_error;
    ctx.mgr.emit_message = on_message;
    int rc = decode(&cinfo, &ctx, buf, len, name, limits, err, errlen);
    if (ctx.code) /* came back by longjmp: the library's message */
        segq_fail(err, errlen, rc, "%s: %s: %s", name, ctx.what, ctx.msg);
    jpeg_destroy_decompress(&cinfo);
    if (rc)
        segq_image_destroy(&ctx.img);
    else
        *out = ctx.img;
    return rc;
}

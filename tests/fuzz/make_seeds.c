/* Writes the tiny generated image seeds of tests/fuzz/corpus/image/ (no
 * patient data): one PNG per colour type and depth, palette with tRNS,
 * interlaced, and JPEG grey/RGB/progressive/CMYK/restart markers.
 *
 *   cc tests/fuzz/make_seeds.c -lpng -ljpeg -o /tmp/make_seeds
 *   /tmp/make_seeds tests/fuzz/corpus/image
 *
 * The safetensors seeds come from tests/safetensors/check_safetensors.py
 * (`write`) and a few hand-made headers; see tests/fuzz/corpus/README. */
#include <stdio.h> /* before jpeglib.h, which uses FILE and size_t */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>

static const char *out_dir;

static FILE *create(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

static void png(const char *name, int w, int h, int color, int depth, int interlace)
{
    FILE *f = create(name);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (!p || !info || setjmp(png_jmpbuf(p)))
        exit(1);
    png_init_io(p, f);
    png_set_IHDR(p, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[16];
        png_byte alpha[3] = {0, 100, 200};
        for (int i = 0; i < 16; i++)
            pal[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i * 16), (png_byte)(i * 7)};
        png_set_PLTE(p, info, pal, 16);
        png_set_tRNS(p, info, alpha, 3, NULL);
    }
    if (color == PNG_COLOR_TYPE_GRAY && depth == 8) {
        png_color_16 key = {.gray = 7};
        png_set_tRNS(p, info, NULL, 0, &key);
    }
    png_write_info(p, info);
    size_t rowbytes = png_get_rowbytes(p, info);
    png_bytep row = malloc(rowbytes);
    int passes = png_set_interlace_handling(p);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++)
                row[i] = (png_byte)(i * 29 + y * 71);
            png_write_row(p, row);
        }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(row);
    fclose(f);
}

static void jpeg(const char *name, int w, int h, int comps, int progressive, int restart)
{
    FILE *f = create(name);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 75, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    c.restart_in_rows = restart;
    jpeg_start_compress(&c, TRUE);
    JSAMPLE *row = malloc((size_t)w * comps);
    while (c.next_scanline < c.image_height) {
        for (int i = 0; i < w * comps; i++)
            row[i] = (JSAMPLE)(i * 13 + c.next_scanline * 9);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    out_dir = argv[1];
    png("grey1.png", 9, 2, PNG_COLOR_TYPE_GRAY, 1, 0);
    png("grey8-trns.png", 4, 3, PNG_COLOR_TYPE_GRAY, 8, 0);
    png("grey16.png", 3, 3, PNG_COLOR_TYPE_GRAY, 16, 0);
    png("ga8.png", 3, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0);
    png("ga16.png", 2, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0);
    png("rgb8.png", 5, 4, PNG_COLOR_TYPE_RGB, 8, 0);
    png("rgb16.png", 3, 2, PNG_COLOR_TYPE_RGB, 16, 0);
    png("rgba8.png", 4, 4, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0);
    png("rgba16.png", 2, 3, PNG_COLOR_TYPE_RGB_ALPHA, 16, 0);
    png("palette4-trns.png", 7, 3, PNG_COLOR_TYPE_PALETTE, 4, 0);
    png("rgb8-interlaced.png", 9, 9, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7);
    jpeg("grey.jpg", 8, 8, 1, 0, 0);
    jpeg("rgb.jpg", 16, 16, 3, 0, 0);
    jpeg("rgb-progressive.jpg", 16, 8, 3, 1, 0);
    jpeg("rgb-restart.jpg", 24, 16, 3, 0, 1);
    jpeg("cmyk.jpg", 8, 8, 4, 0, 0);
    return 0;
}

/* segq_vgg19_file.h: a VGG19 weights file's tensors as stylize reads them,
 * checked from its header alone (segq_st_open_header), as `segq submit
 * stylize` does: files whose bytes are holes stand for the 80 MB real one.
 * No torch, so under ASan and UBSan. */
#include "segq_vgg19_file.h"
#include "vgg19_layers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NONE = -1 };

/* A VGG19 file at path whose conv `missing` has no bias, conv `reshaped`
 * a weight of 3 channels in too many, conv `integer` an I64 weight. */
static void write_vgg(const char *path, int missing, int reshaped, int integer)
{
    char json[8192];
    size_t at = (size_t)snprintf(json, sizeof json, "{");
    uint64_t offset = 0;
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        const segq_vgg19_layer_t *l = &segq_vgg19_layers[i];
        int in = l->in + (i == reshaped ? 3 : 0);
        uint64_t wbytes = (uint64_t)l->out * (uint64_t)in * 9 * (i == integer ? 8 : 4);
        at += (size_t)snprintf(json + at, sizeof json - at,
                               "%s\"features.%d.weight\":{\"dtype\":\"%s\",\"shape\":[%d,%d,3,3],"
                               "\"data_offsets\":[%llu,%llu]}",
                               i ? "," : "", l->index, i == integer ? "I64" : "F32", l->out, in,
                               (unsigned long long)offset, (unsigned long long)(offset + wbytes));
        offset += wbytes;
        if (i == missing)
            continue;
        at += (size_t)snprintf(json + at, sizeof json - at,
                               ",\"features.%d.bias\":{\"dtype\":\"F32\",\"shape\":[%d],"
                               "\"data_offsets\":[%llu,%llu]}",
                               l->index, l->out, (unsigned long long)offset,
                               (unsigned long long)(offset + 4u * (uint64_t)l->out));
        offset += 4u * (uint64_t)l->out;
    }
    at += (size_t)snprintf(json + at, sizeof json - at, "}");
    cr_assert_lt(at, sizeof json);
    uint8_t prefix[8] = {0};
    for (int b = 0; b < 8; b++)
        prefix[b] = (uint8_t)((uint64_t)at >> (8 * b));
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(prefix, 1, 8, f) == 8 && fwrite(json, 1, at, f) == at);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(truncate(path, (off_t)(8 + at + offset)), 0);
}

/* The file's verdict: its rc, err filled. */
static int check(int missing, int reshaped, int integer, char *err, size_t errlen)
{
    char path[] = "/tmp/segq-vgg19-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_vgg(path, missing, reshaped, integer);
    segq_st_t *st = NULL;
    int rc = segq_st_open_header(path, &st, err, errlen);
    cr_assert_eq(rc, 0, "%s", err);
    rc = segq_vgg19_file_check(st, "vgg.safetensors", "--vgg19", err, errlen);
    segq_st_destroy(&st);
    unlink(path);
    return rc;
}

Test(vgg19_file, every_tensor_stylize_reads)
{
    char err[1024] = "";
    cr_assert_eq(check(NONE, NONE, NONE, err, sizeof err), 0, "%s", err);
    cr_assert_eq(check(12, NONE, NONE, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "--vgg19 vgg.safetensors: missing tensor 'features.28.bias'")
                  && strstr(err, "deploy/convert_vgg19.py"),
              "%s", err);
    cr_assert_eq(check(NONE, 2, NONE, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "tensor 'features.5.weight' has shape [128, 67, 3, 3], VGG19 needs "
                          "[128, 64, 3, 3]"),
              "%s", err);
    cr_assert_eq(check(NONE, NONE, 0, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "tensor 'features.0.weight' has dtype I64, expected a float type"), "%s",
              err);
}

/* segq-run devices: what this machine can compute on, for the worker's
 * capacity announcement. */
#include "segq_singan.h"
#include "segq_torch.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* How libgomp's workers wait between parallel regions in this process
 * (segq-run sets a short spin unless the user chose; see segq_run.c). */
static const char *openmp_wait(char *buf, size_t n)
{
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (spin)
        snprintf(buf, n, "spin %s", spin);
    else
        snprintf(buf, n, "%s", policy ? policy : "libgomp default");
    return buf;
}

char *segq_devices_json(char *err, size_t errlen)
{
    json_t *obj = json_object(), *cuda = json_array();
    if (!obj || !cuda) {
        json_decref(obj);
        json_decref(cuda);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char kernels[32] = "unknown", wait[64];
    segqt_cpu_kernels(kernels, sizeof kernels); /* a label only: "unknown" will do */
    json_object_set_new(obj, "cpu",
                        json_pack("{s:i,s:s,s:s}", "cores", segqt_cpu_count(), "kernels", kernels,
                                  "openmp_wait", openmp_wait(wait, sizeof wait)));
    int n = segqt_cuda_device_count();
    for (int i = 0; i < n; i++) {
        segqt_cuda_info info;
        if (segqt_cuda_device_info(i, &info) != 0)
            continue;
        char name[32];
        snprintf(name, sizeof name, "cuda:%d", info.index);
        json_array_append_new(
            cuda, json_pack("{s:s,s:s,s:I,s:I,s:i,s:i}", "device", name, "name", info.name,
                            "total_bytes", (json_int_t)info.total_bytes, "free_bytes",
                            (json_int_t)info.free_bytes, "major", info.major, "minor", info.minor));
    }
    json_object_set_new(obj, "cuda", cuda);
    json_object_set_new(obj, "cuda_build", json_boolean(segqt_has_cuda_build()));
    json_object_set_new(obj, "torch_version", json_string(segqt_version()));
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(obj);
    if (!text)
        snprintf(err, errlen, "out of memory");
    return text;
}

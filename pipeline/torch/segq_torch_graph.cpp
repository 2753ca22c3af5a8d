// segq_torch_graph.cpp: CUDA graphs and cuDNN's algorithm choice for the C
// shim (segq_torch.h). A CPU build has the same functions, answering that
// there is no CUDA, so the C code above needs no #ifdef.
#include "segq_torch_internal.hpp"

#include <ATen/Context.h>

#include <memory>
#include <optional>

#ifdef SEGQ_TORCH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#endif

using segqt::run_i;

struct segqt_graph {
#ifdef SEGQ_TORCH_CUDA
    at::cuda::CUDAGraph graph;
    // CUDA captures no work of the default stream, and the eager warm-up
    // must run where the capture will (lazily made per-stream state, the
    // autograd engine's stream bookkeeping): the graph's lifetime runs on
    // a stream of its own; the guard puts the caller's back at the end.
    std::optional<c10::cuda::CUDAStreamGuard> stream;
    c10::DeviceIndex device = 0;
#endif
    bool capturing = false, captured = false;
};

extern "C" int segqt_graph_supported(segqt_device d)
{
#ifdef SEGQ_TORCH_CUDA
    return d.type == SEGQT_DEVICE_CUDA && segqt_device_check(d) == 0 ? 1 : 0;
#else
    (void)d;
    return 0;
#endif
}

extern "C" segqt_graph *segqt_graph_new(segqt_device d)
{
    try {
        if (d.type != SEGQT_DEVICE_CUDA)
            throw segqt::Error(SEGQ_EINVAL, "CUDA graphs capture CUDA work only");
        if (segqt_device_check(d) < 0)
            return nullptr; // its message is recorded
#ifdef SEGQ_TORCH_CUDA
        auto g = std::make_unique<segqt_graph>();
        g->device = d.index < 0 ? c10::cuda::current_device() : (c10::DeviceIndex)d.index;
        // work on the new stream reads what the old one wrote: let it finish
        torch::cuda::synchronize(g->device);
        g->stream.emplace(c10::cuda::getStreamFromPool(false, g->device));
        return g.release();
#else
        throw segqt::Error(SEGQ_ENODEV, "CUDA not compiled in");
#endif
    } catch (...) {
        segqt::record_exception(__func__);
        return nullptr;
    }
}

extern "C" int segqt_graph_capture_begin(segqt_graph *g)
{
    return run_i(__func__, [&] {
        if (!g || g->capturing || g->captured)
            throw segqt::Error(SEGQ_EINTERNAL, "a graph is captured once, after segqt_graph_new");
#ifdef SEGQ_TORCH_CUDA
        g->graph.capture_begin();
#endif
        g->capturing = true;
        return 0;
    });
}

extern "C" int segqt_graph_capture_end(segqt_graph *g)
{
    return run_i(__func__, [&] {
        if (!g || !g->capturing)
            throw segqt::Error(SEGQ_EINTERNAL, "segqt_graph_capture_end without its begin");
        g->capturing = false;
#ifdef SEGQ_TORCH_CUDA
        g->graph.capture_end();
#endif
        g->captured = true;
        return 0;
    });
}

extern "C" int segqt_graph_replay(segqt_graph *g)
{
    return run_i(__func__, [&] {
        if (!g || !g->captured)
            throw segqt::Error(SEGQ_EINTERNAL, "replay of a graph that was not captured");
#ifdef SEGQ_TORCH_CUDA
        g->graph.replay();
#endif
        return 0;
    });
}

extern "C" void segqt_graph_destroy(segqt_graph **g)
{
    if (!g || !*g)
        return;
    if ((*g)->capturing)
        segqt_graph_capture_end(*g); // ends the stream's capture; its error is recorded
#ifdef SEGQ_TORCH_CUDA
    try {
        // the caller's stream goes on from where the graph's stopped
        torch::cuda::synchronize((*g)->device);
    } catch (...) {
        segqt::record_exception(__func__);
    }
#endif
    delete *g;
    *g = nullptr;
}

extern "C" int segqt_cudnn_benchmark(int on)
{
    return run_i(__func__, [&] {
        at::globalContext().setBenchmarkCuDNN(on != 0);
        return 0;
    });
}

// segq_torch_profile.cpp: op-level CPU profile through libtorch's own
// (legacy) autograd profiler, summarised by op as a text table. For
// finding where the time goes; off unless a caller asks for it.
#include "segq_torch_internal.hpp"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cstdio>
#include <map>

using segqt::run_i;

namespace
{
namespace tpl = torch::autograd::profiler;
namespace tpi = torch::profiler::impl;

thread_local bool t_profiling = false;

struct Agg {
    int64_t calls = 0;
    double self_us = 0, total_us = 0;
};

struct Frame {
    const tpl::LegacyEvent *push;
    double child_us;
};

// Self time = an op's time minus that of the ops it called (nesting from
// the push/pop order of each thread's event list).
void aggregate(const tpl::thread_event_lists &lists, std::map<std::string, Agg> &agg,
               std::map<std::string, Agg> &by_caller, double &top_us)
{
    for (const auto &list : lists) {
        std::vector<Frame> stack;
        for (const auto &e : list) {
            if (e.kind() == tpl::EventKind::PushRange) {
                stack.push_back({&e, 0.0});
            } else if (e.kind() == tpl::EventKind::PopRange && !stack.empty()) {
                Frame f = stack.back();
                stack.pop_back();
                double us = f.push->cpuElapsedUs(e);
                Agg &a = agg[f.push->name()];
                a.calls++;
                a.total_us += us;
                a.self_us += us - f.child_us;
                // the same op split by its caller (which autograd node or
                // composite op it ran for)
                Agg &c = by_caller[std::string(stack.empty() ? "-" : stack.back().push->name())
                                   + " > " + f.push->name()];
                c.calls++;
                c.total_us += us;
                c.self_us += us - f.child_us;
                if (stack.empty())
                    top_us += us;
                else
                    stack.back().child_us += us;
            }
        }
    }
}
} // namespace

extern "C" int segqt_profile_begin(void)
{
    return run_i(__func__, [] {
        if (t_profiling)
            throw segqt::Error(SEGQ_EINTERNAL, "the profiler already runs on this thread");
        tpl::enableProfilerLegacy(tpi::ProfilerConfig(tpi::ProfilerState::CPU));
        t_profiling = true;
        return 0;
    });
}

extern "C" int segqt_profile_end(const char *path, const char *title, int max_rows)
{
    return run_i(__func__, [&] {
        if (!t_profiling)
            throw segqt::Error(SEGQ_EINTERNAL, "no profile runs on this thread: call "
                                               "segqt_profile_begin first");
        t_profiling = false;
        tpl::thread_event_lists lists = tpl::disableProfilerLegacy();
        if (!path)
            return 0;
        std::map<std::string, Agg> agg, by_caller;
        double top_us = 0;
        aggregate(lists, agg, by_caller, top_us);
        FILE *f = std::fopen(path, "a");
        if (!f)
            throw segqt::Error(SEGQ_EINVAL, std::string("cannot write ") + path);
        std::fprintf(f, "== %s: %.1f ms in ops\n", title ? title : "profile", top_us / 1e3);
        for (auto *m : {&agg, &by_caller}) {
            std::vector<std::pair<std::string, Agg>> rows(m->begin(), m->end());
            std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
                return a.second.self_us > b.second.self_us;
            });
            std::fprintf(f, "%10s %6s %10s %8s  %s\n", "self ms", "self%", "total ms", "calls",
                         m == &agg ? "op" : "caller > op");
            int n = 0;
            for (const auto &r : rows) {
                if (max_rows > 0 && n++ >= max_rows)
                    break;
                std::fprintf(f, "%10.1f %5.1f%% %10.1f %8lld  %s\n", r.second.self_us / 1e3,
                             top_us > 0 ? 100 * r.second.self_us / top_us : 0.0,
                             r.second.total_us / 1e3, (long long)r.second.calls, r.first.c_str());
            }
        }
        int bad = std::fclose(f);
        if (bad)
            throw segqt::Error(SEGQ_EINVAL, std::string("write failed: ") + path);
        return 0;
    });
}

# The two commands a newcomer needs: `make demo` and `make test`.
# Everything else is here for developers.
JOBS    ?= $(shell nproc)
CMAKE   ?= cmake
RELEASE := build/release
ASAN    := build/asan
FUZZ    := build/fuzz

.PHONY: all deps configure-release build asan test test-release test-asan test-fuzz test-deploy package demo bench fuzz clean

all: build

deps:
	@bash deploy/deps.sh

# Release build: everything, the pipeline against libtorch included.
# TORCH_DIR=/path/to/share/cmake/Torch builds against another (e.g. CUDA) libtorch.
configure-release: deps
	@$(CMAKE) -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    $(if $(TORCH_DIR),-DTorch_DIR=$(TORCH_DIR)) >/dev/null

build: configure-release
	@$(CMAKE) --build $(RELEASE) -j $(JOBS)

# Sanitizer build (ASan + UBSan) of everything that does not link libtorch:
# the queue and the decoders of outside input.
asan: deps
	@$(CMAKE) -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DSEGQ_SANITIZE=ON \
	    -DSEGQ_WITH_TORCH=OFF >/dev/null
	@$(CMAKE) --build $(ASAN) -j $(JOBS)

test-asan: asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS)

# The release build runs the pipeline tests (those that link libtorch).
test-release: build
	cd $(RELEASE) && ctest --output-on-failure -j $(JOBS) -L torch

# Every fuzz target from its seeds for SEGQ_FUZZ_TIME (20 s) each: a crash fails.
test-fuzz: fuzz
	cd $(FUZZ) && ctest --output-on-failure -j $(JOBS) -L fuzz

# Installing and packaging (label deploy): man pages, cmake --install,
# systemd-analyze verify, and the Debian packages built, installed with
# apt-get, checked and purged (root: docs/install.md).
test-deploy: build
	cd $(RELEASE) && ctest --output-on-failure -L deploy

test: test-asan test-release test-fuzz test-deploy

# Debian packages segq, segqd, segq-worker in build/release/packages/.
package: build
	cd $(RELEASE) && cpack -G DEB

# Builds only the four programs it runs (not the tests); SEGQ_DEMO_OUT=DIR
# says where the results go (deploy/demo.sh).
demo: configure-release
	@$(CMAKE) --build $(RELEASE) -j $(JOBS) --target segqd segq-worker segq segq-run
	@bash deploy/demo.sh $(RELEASE)

# Figures, not pass/fail: the queue end to end, then SinGAN-Seg on the CPU.
bench: build
	@bash bench/queue_run.sh $(RELEASE)
	@bash bench/pipeline_cpu.sh $(RELEASE)/pipeline/segq-run
	@bash bench/pipeline_queue_overhead.sh $(RELEASE)

fuzz: deps
	@$(CMAKE) -S . -B $(FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGQ_FUZZ=ON -DSEGQ_WITH_TORCH=OFF \
	    -DBUILD_TESTING=ON >/dev/null
	@$(CMAKE) --build $(FUZZ) -j $(JOBS) --target segq_fuzzers

clean:
	rm -rf build

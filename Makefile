# SPDX-License-Identifier: MIT
# nodescore: one Makefile for the library, binaries, BPF skeletons, tests,
# fuzzers, benchmarks and the demo. Quiet unless V=1.
#
#   make            build everything into build/
#   make test       install missing Debian packages, build, run every test
#   make demo       install, build, run extender + agent + fake nodes, show ranking
#   make bench      performance figures against same-run baselines
#   make asan       tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       libFuzzer targets for every parser (FUZZ_SECONDS each)
#   make coverage   line coverage of the test suite
#   make eval       model quality on ../shared/data (see README)
#   make sim        placement policies compared in nodescore-sim (docs/sim.md)
#   make qtable     retrain the Q-table placement value in nodescore-sim
#   make install    PREFIX=/usr/local DESTDIR=

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

CC ?= cc
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZER ?=
FUZZ_SECONDS ?= 20

ifneq ($(SANITIZER),)
BUILD ?= build-san
SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SANFLAGS :=
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DNS_MODELS_SHARE_DIR=\"$(PREFIX)/share/nodescore/models\" $(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude -I. -I$(BUILD) -MMD -MP
# The shared core is held to -Wconversion: it parses untrusted bytes.
LIB_CFLAGS := -Wconversion -Wsign-conversion
LDFLAGS ?=
# Each binary records only the shared libraries it calls (the extender does not
# load libbpf or libxgboost); the archives already give only the objects used.
LDFLAGS += -Wl,--as-needed
LDLIBS := -lbpf -lelf -lz -lmnl -lcjson -lnanomsg -lxgboost -lmicrohttpd -lgnutls -lsodium -lcurl -lm -lpthread

LIB_SRC := $(wildcard lib/*.c)
AGENT_SRC := $(filter-out agent/main.c,$(wildcard agent/*.c))
EXT_SRC := $(filter-out extender/main.c,$(wildcard extender/*.c))
BPF_SRC := $(wildcard bpf/*.bpf.c)
TOOL_DIRS := $(patsubst tools/%/,%,$(sort $(dir $(wildcard tools/*/main.c))))
TEST_SRC := $(wildcard tests/*_test.c)
FUZZ_SRC := $(wildcard tests/fuzz/*_fuzz.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(BUILD)/%.o)
EXT_OBJ := $(EXT_SRC:%.c=$(BUILD)/%.o)
SKELS := $(BPF_SRC:bpf/%.bpf.c=$(BUILD)/bpf/%.skel.h)
TOOLS := $(TOOL_DIRS:%=$(BUILD)/nodescore-%)
TESTS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BINS := $(patsubst %/main.c,$(BUILD)/nodescore-%,$(wildcard agent/main.c extender/main.c)) $(TOOLS)
LIBS := $(BUILD)/libagent.a $(BUILD)/libextender.a $(BUILD)/libnodescore.a

.PHONY: all test check asan fuzz coverage bench demo eval sim sim-extra qtable install clean deps format tests
all: $(BINS)
tests: $(TESTS)

deps:
	$(Q)./tools/install-deps.sh

# --- BPF: vmlinux.h -> .bpf.o -> .skel.h (generated, never committed) ---
$(BUILD)/bpf/vmlinux.h:
	$(call msg,VMLINUX,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/bpf/vmlinux.h $(wildcard bpf/*.h)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
		-I$(BUILD)/bpf -Ibpf -Iinclude -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- C objects ---
$(BUILD)/lib/%.o: lib/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# The models directory is compiled in from PREFIX: rebuild what uses it when
# PREFIX changes (make install PREFIX=/usr after a plain make).
$(BUILD)/.prefix: FORCE
	$(Q)mkdir -p $(@D); echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
$(BUILD)/agent/models.o $(BUILD)/agent/main.o: $(BUILD)/.prefix
# nodescore_build_info's version: git describe at build time, recompiled when it changes.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/.version: FORCE
	$(Q)mkdir -p $(@D); echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(BUILD)/lib/procmetrics.o: $(BUILD)/.version
$(BUILD)/lib/procmetrics.o: ALL_CFLAGS += -DNS_VERSION=\"$(VERSION)\"
.PHONY: FORCE
FORCE:

# One recipe for the three archives (an empty object list still gives a valid archive).
# Each also depends on a list of its members, rewritten when the list changes:
# a source moved or deleted rebuilds the archive, so no stale object of it
# stays inside to shadow its new home in another archive.
$(BUILD)/libnodescore.a: $(LIB_OBJ)
$(BUILD)/libagent.a: $(AGENT_OBJ)
$(BUILD)/libextender.a: $(EXT_OBJ)
$(BUILD)/libnodescore.a.members: MEMBERS = $(LIB_OBJ)
$(BUILD)/libagent.a.members: MEMBERS = $(AGENT_OBJ)
$(BUILD)/libextender.a.members: MEMBERS = $(EXT_OBJ)
$(LIBS:%=%.members): FORCE
	$(Q)mkdir -p $(@D); echo '$(MEMBERS)' | cmp -s - $@ || echo '$(MEMBERS)' > $@
$(LIBS): %: %.members
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D) && rm -f $@ && $(if $(filter %.o,$^),ar rcs $@ $(filter %.o,$^),printf "!<arch>\n" > $@)

$(BUILD)/nodescore-agent: $(BUILD)/agent/main.o $(LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/nodescore-extender: $(BUILD)/extender/main.o $(LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

.SECONDEXPANSION:
# No '%' inside: make would replace it with the stem and link the .c files directly.
$(BUILD)/nodescore-%: $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(basename $$(wildcard tools/$$*/*.c)))) $(LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%_test: $(BUILD)/tests/%_test.o $(LIBS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# --- test, sanitizers, fuzz, coverage ---
check: all tests
	$(Q)./tests/run.sh $(BUILD)/tests $(T)

test: deps
	$(Q)$(MAKE) --no-print-directory check

asan: deps
	$(Q)$(MAKE) --no-print-directory SANITIZER=address,undefined BUILD=build-asan CFLAGS="-O1 -g" check

# FUZZ_TARGETS="wire_fuzz extjson_fuzz" runs only those (default: all).
FUZZ_TARGETS ?= $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZERS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(EXT_SRC) $(AGENT_SRC) | $(SKELS)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iinclude -I. -I$(BUILD) $< $(LIB_SRC) $(EXT_SRC) $(AGENT_SRC) $(LDLIBS) -o $@

# Regression replay in make test/asan (tests/fuzz_replay_itest.sh): each target
# linked with tests/fuzz/replay.c instead of libFuzzer, normal flags (+ SANFLAGS).
FUZZ_REPLAYS := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)
tests: $(FUZZ_REPLAYS)
$(BUILD)/fuzz-replay/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIBS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

fuzz: deps $(FUZZERS)
	$(Q)set -e; for f in $(FUZZERS); do \
		n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		seed=tests/fuzz/corpus/$$n; [ -d $$seed ] || seed=; \
		echo "== $$n ($(FUZZ_SECONDS) s)"; \
		rc=0; $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-artifact_prefix=$(BUILD)/fuzz/$$n- $(BUILD)/fuzz/corpus-$$n $$seed \
			>$(BUILD)/fuzz/$$n.log 2>&1 || rc=$$?; \
		grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|==[0-9]+==ERROR|SUMMARY)' $(BUILD)/fuzz/$$n.log || true; \
		[ $$rc -eq 0 ] || { echo "FAIL $$n: exit $$rc, see $(BUILD)/fuzz/$$n.log"; exit 1; }; \
	done; echo "SUCCESS fuzz: no crashes"

coverage: deps
	$(Q)rm -rf build-cov
	$(Q)$(MAKE) --no-print-directory -k BUILD=build-cov CFLAGS="-O0 -g --coverage" \
		LDFLAGS="--coverage" all tests || true
	$(Q)./tests/run.sh build-cov/tests $(T) || true
	$(Q)./tools/coverage-report.sh build-cov

# --- bench, demo, eval ---
bench: deps all
	$(Q)./tools/bench.sh $(BUILD)

demo: deps all
	$(Q)./tools/demo.sh $(BUILD)

eval: deps all
	$(Q)./tools/eval.sh $(BUILD)

# Placement comparison on ../shared/data (docs/sim.md): S1-S4 side by side;
# sim-extra: the Azure arrivals and the S2 staleness and horizon sweeps.
SIM_OUT ?= docs/sim-results
sim: deps all
	$(Q)./tools/sim/make-sim.sh $(BUILD) $(SIM_OUT) default

sim-extra: deps all
	$(Q)./tools/sim/make-sim.sh $(BUILD) $(SIM_OUT) extra

# Retrains models/qtable-default.nsq on the train half (about 8 minutes).
qtable: deps all
	$(Q)$(BUILD)/nodescore-sim --train-q 500 --load 0.65 --q-out models/qtable-default.nsq \
		--q-curve $(SIM_OUT)/qlearn-curve.csv
	$(Q)./tools/sim/plot-qlearn.sh $(SIM_OUT)/qlearn-curve.csv $(SIM_OUT)/qlearn.png

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/nodescore/models
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	cp -r models/. $(DESTDIR)$(PREFIX)/share/nodescore/models/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-asan build-cov

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

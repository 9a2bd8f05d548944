# tests/fuzz/fuzz.mk: libFuzzer target for request parsing, included by the Makefile.
#
#   make fuzz         fuzz for $(FUZZ_SECONDS) s (default 600) on a working copy of
#                     the corpus in $(BUILD)/fuzz/corpus; the committed one never grows
#   make fuzz-short   build and fuzz $(FUZZ_SHORT_SECONDS) s (default 60) from the
#                     committed corpus; fails on a crash, leak or broken invariant
#   make fuzz-build   only build $(BUILD)/fuzz/fuzz_api
#
# Needs clang and its libFuzzer runtime (Debian 12: clang libclang-rt-14-dev).
# Crash, leak and timeout inputs are written to $(BUILD)/fuzz/artifacts/; replay
# one with: $(BUILD)/fuzz/fuzz_api <file>

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 600
FUZZ_SHORT_SECONDS ?= 60
FUZZ_ARGS          ?=

FUZZ_DIR    := $(BUILD)/fuzz
FUZZ_BIN    := $(FUZZ_DIR)/fuzz_api
FUZZ_SAN    := address,undefined
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -pthread $(WARN) -MMD -MP \
               -fno-omit-frame-pointer -fno-sanitize-recover=all
ifeq ($(WERROR),1)
FUZZ_CFLAGS += -Werror
endif
# the core code the target calls, and what that code calls in turn
FUZZ_SRC    := tests/fuzz/fuzz_api.c core/engine/job.c core/lib/cron.c core/lib/dsn.c core/lib/names.c \
               core/lib/db.c core/lib/log.c core/lib/util.c core/lib/sb.c core/lib/err.c server/routes.c
FUZZ_OBJ    := $(FUZZ_SRC:%.c=$(FUZZ_DIR)/%.o)
# libFuzzer options for make fuzz; run-short.sh passes the same ones
FUZZ_OPTS   := -max_len=4096 -timeout=10 -dict=tests/fuzz/fuzz_api.dict -print_final_stats=1

.PHONY: fuzz fuzz-short fuzz-build fuzz-check

# fail early, and say what to install, when clang or libFuzzer is missing
fuzz-check:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 && \
	 test -f "$$($(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-$$(uname -m).a)" || { \
	 echo "fuzz: $(FUZZ_CC) with the libFuzzer runtime is missing;" \
	      "install the Debian packages clang libclang-rt-14-dev" >&2; exit 2; }

# coverage instrumentation on everything, libFuzzer's main only at the link
$(FUZZ_OBJ): $(FUZZ_DIR)/%.o: %.c | fuzz-check $(GEN)/sql.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) $(INC) $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_BIN): $(FUZZ_OBJ)
	$(FUZZ_CC) -g -fsanitize=fuzzer,$(FUZZ_SAN) -pthread -o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	cp tests/fuzz/corpus/* $(FUZZ_DIR)/corpus/
	$(FUZZ_BIN) $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_ARGS) $(FUZZ_DIR)/corpus

fuzz-short:
	@MAKE="$(MAKE)" FUZZ_CC="$(FUZZ_CC)" tests/fuzz/run-short.sh $(BUILD) $(FUZZ_SHORT_SECONDS)

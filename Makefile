# Makefile: build ferryd, run its tests and demo, install it.
#
#   make            build build/ferryd
#   make deps       install the Debian packages and npm modules that are missing
#   make test       build and run every test, plainly and under sanitizers; ends with
#                   "N passed, N failed"
#   make demo       migrate a sample database through the REST API and print the report
#   make run        start ferryd with an embedded metadata database
#   make bench      time ferry against pgcopydb, pg_dump/pg_restore and a COPY pipe
#                   (BENCH_MYSQL=1: also a MariaDB source against pgloader and a pipe)
#   make loadtest   wrk against the read endpoints while a run is in progress
#   make install    install ferryd into $(DESTDIR)$(PREFIX)/bin
#
# Variables: SANITIZE=address,undefined builds with sanitizers; WERROR=1 (set
# when CI=true) turns warnings into errors; DEMO_EXIT=1 makes the demo exit
# after its report.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
PKGS    := libmicrohttpd jansson libpq uuid zlib libmariadb

ifeq ($(CI),true)
WERROR ?= 1
endif

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wvla -Wwrite-strings
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -MMD -MP
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

GEN       := $(BUILD)/gen
CORE_DIRS := core/lib core/meta core/engine core/connectors core/connectors/pg core/connectors/mysql
CORE_SRC  := $(foreach d,$(CORE_DIRS),$(wildcard $(d)/*.c))
SERVER_SRC:= $(wildcard server/*.c)
SQL_FILES := $(sort $(wildcard core/meta/sql/*.sql)) $(sort $(wildcard core/connectors/*/sql/*.sql))
WEB_FILES := $(sort $(wildcard web/*.html web/*.css web/*.js web/*.svg web/*.png))
GEN_SRC   := $(GEN)/sql.c $(GEN)/web_assets.c $(GEN)/spec_assets.c
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/sql.o
SERVER_OBJ:= $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/web_assets.o $(BUILD)/gen/spec_assets.o
INC       := $(CORE_DIRS:%=-I%) -Iserver -I$(GEN)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps deps-build test unit demo run bench loadtest install clean lint-openapi

all: $(BUILD)/ferryd

deps-build:
	@tests/deps.sh build

deps: deps-build
	@tests/deps.sh test

$(BUILD)/embed: core/tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -o $@ $<

$(GEN)/sql.c $(GEN)/sql.h: $(BUILD)/embed $(SQL_FILES)
	@mkdir -p $(GEN)
	$(BUILD)/embed sql $(GEN)/sql.c $(GEN)/sql.h -C core/meta/sql $(SQL_FILES)

$(GEN)/web_assets.c $(GEN)/web_assets.h: $(BUILD)/embed $(WEB_FILES)
	@mkdir -p $(GEN)
	$(BUILD)/embed web $(GEN)/web_assets.c $(GEN)/web_assets.h -C web $(WEB_FILES)

$(GEN)/spec_assets.c $(GEN)/spec_assets.h: $(BUILD)/embed openapi/openapi.yaml
	@mkdir -p $(GEN)
	$(BUILD)/embed spec $(GEN)/spec_assets.c $(GEN)/spec_assets.h -C openapi openapi/openapi.yaml

# every object may include the generated headers
$(CORE_OBJ) $(SERVER_OBJ): | $(GEN)/sql.h $(GEN)/web_assets.h $(GEN)/spec_assets.h

$(GEN)/%.o: $(GEN)/%.c
	$(CC) $(CFLAGS) $(INC) -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/ferryd: $(CORE_OBJ) $(SERVER_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(BUILD)/server/routes.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

unit: $(UNIT_BIN)

# the whole suite runs twice: on the plain build and on one with sanitizers
test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SANITIZE=address,undefined all unit
	@tests/run.sh $(BUILD) $(BUILD)/asan

lint-openapi: deps
	cd tests && npx --no-install redocly lint ../openapi/openapi.yaml --config ../openapi/redocly.yaml

demo: deps-build
	@tests/deps.sh demo
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

bench: deps-build
	@tests/deps.sh bench
	@$(MAKE) --no-print-directory all
	@for shape in $${BENCH_SHAPES:-$${BENCH_SHAPE:-standard medium tables toast}}; do \
		BENCH_SHAPE=$$shape bench/run.sh || exit 1; \
	done
	@if [ "$${BENCH_MYSQL:-0}" = 1 ]; then bench/mysql.sh; fi

loadtest: deps-build
	@tests/deps.sh loadtest
	@$(MAKE) --no-print-directory all
	@loadtest/run.sh

run: deps-build
	@$(MAKE) --no-print-directory all
	$(BUILD)/ferryd $(ARGS)

install: $(BUILD)/ferryd
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/ferryd $(DESTDIR)$(PREFIX)/bin/ferryd

clean:
	rm -rf $(BUILD)

# make fuzz, and the short fuzz run that make test includes
include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

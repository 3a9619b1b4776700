# foresight: C17 build, tests and the local control plane.
# Every lib/*/ *.c goes into one static library; each program folder links it.
# `make SANITIZE=address,undefined unit` builds into a separate tree with the sanitizers.

CC      ?= gcc
PKGS    := libcurl jansson yajl yaml-0.1 openssl libwebsockets
OUT     := _out
SANITIZE ?=
ifeq ($(SANITIZE),)
  BUILD := $(OUT)/build
  SANFLAGS :=
else
  BUILD := $(OUT)/build-san
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -MMD -MP $(SANFLAGS) \
           -Ilib $(shell pkg-config --cflags $(PKGS))
LDFLAGS += $(SANFLAGS)
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lpthread -lm

# LIB_DIRS narrows the library to some folders while another one is mid-edit,
# e.g. make LIB_DIRS="common kube" UNIT_FILTER=test_kube% unit
LIB_DIRS ?= $(notdir $(wildcard lib/*))
LIB_SRC := $(foreach d,$(LIB_DIRS),$(wildcard lib/$(d)/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA    := $(BUILD)/libforesight.a

# program folder -> binary name
PROGRAMS := controller:foresight-controller extender:foresight-extender cli:kubectl-foresight
prog_dir  = $(word 1,$(subst :, ,$(1)))
prog_name = $(word 2,$(subst :, ,$(1)))
BINS := $(foreach p,$(PROGRAMS),$(if $(wildcard $(call prog_dir,$(p))/*.c),$(BUILD)/bin/$(call prog_name,$(p))))

UNIT_FILTER ?= %
UNIT_SRC := $(filter tests/unit/$(UNIT_FILTER).c,$(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# code shared by unit tests and test programs (fakes, fixtures): tests/support/*.c, one archive
SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/support/*.c))
SUPPORTA := $(BUILD)/libtestsupport.a

.SECONDARY:
PREFIX ?= /usr/local

.PHONY: all programs install test unit unit-san e2e bench fuzz cluster-up cluster-down cluster-status k8s-bins tools demo clean
all: $(BINS) $(UNIT_BIN)

# the three binaries alone (what the container image and `make install` need)
programs: $(BINS)

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The archive is rebuilt when LIB_DIRS changes, not only when an object does.
LIBDIRS_STAMP := $(BUILD)/libdirs.stamp
$(shell mkdir -p $(BUILD) && { [ "$$(cat $(LIBDIRS_STAMP) 2>/dev/null)" = "$(LIB_DIRS)" ] || echo "$(LIB_DIRS)" > $(LIBDIRS_STAMP); })

$(LIBA): $(LIB_OBJ) $(LIBDIRS_STAMP)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

define program_rule
$(BUILD)/bin/$(call prog_name,$(1)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(call prog_dir,$(1))/*.c)) $(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(SUPPORTA): $(SUPPORT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(SUPPORTA) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Unit tests: plain, then under ASan+UBSan.
unit: $(UNIT_BIN)
	@hack/run-unit.sh $(UNIT_BIN)
ifeq ($(SANITIZE),)
	$(MAKE) --no-print-directory SANITIZE=address,undefined BUILD=$(BUILD)-san LIB_DIRS="$(LIB_DIRS)" UNIT_FILTER="$(UNIT_FILTER)" unit
endif

# End-to-end: brings the local cluster up, runs tests/e2e/test_*.sh, always takes it down.
e2e: all k8s-bins tools
	tests/e2e/run.sh

test: unit e2e

# Fuzz targets (clang + libFuzzer), FUZZ_SECONDS each.
FUZZ_SECONDS ?= 20
fuzz:
	hack/fuzz.sh $(FUZZ_SECONDS)

bench: all
	hack/bench/run.sh all
bench-%: all
	hack/bench/run.sh $*

k8s-bins:
	hack/k8s/build.sh
tools:
	hack/tools.sh

cluster-up: k8s-bins tools
	hack/cluster.sh up
cluster-down:
	hack/cluster.sh down
cluster-status:
	hack/cluster.sh status

demo: all k8s-bins tools
	hack/demo.sh

clean:
	rm -rf $(OUT)/build $(OUT)/build-san

# Header dependencies of every object (-MMD writes them), so a changed lib/ header rebuilds
# the programs too instead of linking stale struct layouts.
-include $(LIB_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%.d)
-include $(foreach p,$(PROGRAMS),$(wildcard $(BUILD)/$(call prog_dir,$(p))/*.d))

# Helper programs for e2e tests and benchmarks: tests/e2e/*.c and tests/bench/*.c, one program each.
E2E_SRC  := $(wildcard tests/e2e/*.c) $(wildcard tests/bench/*.c)
E2E_BIN  := $(patsubst tests/%.c,$(BUILD)/%,$(E2E_SRC))
all: $(E2E_BIN)
$(BUILD)/e2e/%: $(BUILD)/tests/e2e/%.o $(SUPPORTA) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(SUPPORTA) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
-include $(E2E_SRC:%.c=$(BUILD)/%.d) $(SUPPORT_OBJ:.o=.d)

# ---- tests of the kubectl-foresight binary itself (tests/cli/, issue 4); no cluster ----
.PHONY: test-cli
test-cli: $(BUILD)/bin/kubectl-foresight
	BIN=$(BUILD) tests/cli/test_cli.sh
test: test-cli

# Convenience wrapper around meson/ninja and the scripts in scripts/.
#
#   make            build into build/ (meson setup on first use)
#   make test       scripts/test.sh: deps, both builds, every test tier
#                   (one tier: make test TIERS=smbclient)
#   make demo       scripts/demo.sh: deps, build, run smbkitd --demo
#   make asan       ASan+UBSan build into build-asan/
#   make deps       install missing Debian packages (scripts/deps.sh)
#   make clean      remove build/ and build-asan/

TIERS ?= all

.PHONY: all build asan test demo deps clean

all: build

build:
	@bash scripts/build.sh normal

asan:
	@bash scripts/build.sh asan

test:
	@bash scripts/test.sh $(TIERS)

demo:
	@bash scripts/demo.sh

deps:
	@bash scripts/deps.sh

clean:
	rm -rf build build-asan

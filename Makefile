# The two commands of the README: `make run` and `make test`.
# Both install what is missing (Debian packages), configure, build in Release.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: setup configure build run test clean sanitize

setup:
	@scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/shardplan plan --model models/gpt3-175b.json --cluster dgx-a100 --gpus 1024 --global-batch 1536

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

sanitize: setup
	@cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSHARDPLAN_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS) -LE "gpu|slow"

clean:
	rm -rf $(BUILD) $(BUILD)-asan

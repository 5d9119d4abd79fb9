#!/usr/bin/env bash
# GPU check of the one-ggml CUDA build (docs/cuda.md, issue 5), for one call on a lent GPU machine
# (CUDA nvcc, cmake, ninja, python3; no Go, no network). Run from the repository root after
# `make cuda-host` here, carrying .device/ (wcos-gpu.tar.xz: wcos-cuda, the CPU libraries, the
# bindings test binary and ggml's sources):
#
#   bash scripts/gpu-check.sh                        # on the GPU machine, $OUT set by the tool
#   WCOS_GPU_CHECK_CPU=1 bash scripts/gpu-check.sh   # rehearsal here: CPU backend, tiny shapes
#
# Order: (a) nvidia-smi; build libggml-cuda.so against the carried libggml-base (synthetic models
# are generated meanwhile, niced); (b) tiny-olmo on the GPU vs the Hugging Face reference and the CPU
# backend, one-ggml check, flash-attention placement; (c) OLMo-7B-shaped synthetic benchmarks at
# batch 4×1024: F16 entropy + conditional ablation of 528 neurons, F16 quadrant statistics (wcos
# freqs), F16 plain, Q4_K_M plain; tokens/s (overall, and after the first batch) and peak GPU memory
# each, and llama.cpp's flash-attention decision (the runs are verbose). Every result is one line on
# stdout and in $OUT/gpu.log, written as it comes, so a timeout keeps what was done.
#
# Knobs: GPU_CHECK_BUDGET (s, default 440: the whole script), GPU_CHECK_LAYERS (default 32; 16 runs
# a half-depth model and also reports rates scaled to 32 layers), GPU_CHECK_BATCHES (default 6 per
# benchmark; each rate is given with the first batch, which carries the warm-up, and without it),
# GPU_CHECK_WORK (scratch, default /tmp/wcos-gpu-check: 19 GB for the 32-layer models), WCOS_DEVICE
# (GPU index).
set -uo pipefail

T0=$(date +%s)
ROOT=$(pwd)
CPU=${WCOS_GPU_CHECK_CPU:-0}
BUDGET=${GPU_CHECK_BUDGET:-440}
LAYERS=${GPU_CHECK_LAYERS:-32}
BATCHES=${GPU_CHECK_BATCHES:-6}
W=${GPU_CHECK_WORK:-/tmp/wcos-gpu-check}
JOBS=$(nproc)
OUT=${OUT:-$ROOT/out/gpu-check}
LOG=$OUT/gpu.log
mkdir -p "$OUT" "$W"
: >"$LOG"

say() { echo "$*" | tee -a "$LOG"; }
elapsed() { echo $(($(date +%s) - T0)); }
left() { echo $((BUDGET - $(elapsed))); }
# lim N: N seconds, or fewer if the budget has fewer left (at least 10).
lim() {
	local l
	l=$(left)
	((l < $1)) && echo $((l > 10 ? l : 10)) || echo "$1"
}
# step NAME: a header line with the time used so far.
step() { say "== $1 (t=$(elapsed)s)"; }
# keep NAME FILE: the tail of a command's output beside gpu.log, for the lead.
# The head too: a Go crash report names the faulting frame at its top, its tail is a register dump;
# in a verbose run llama.cpp's log comes first, so also 30 lines from the crash report's first line.
keep() {
	{
		head -n 30 "$2"
		echo ...
		local c
		c=$(grep -nE '^(wcos crash diag|SIGSEGV|SIGABRT|SIGBUS|SIGILL|SIGFPE|fatal error|panic|signal )' "$2" | head -n 1 | cut -d: -f1)
		[ -n "$c" ] && ((c > 30)) && { sed -n "${c},$((c + 59))p" "$2"; echo ...; }
		tail -n 30 "$2"
	} >"$OUT/$1.txt" 2>/dev/null
}

say "gpu-check: $(date -u +%FT%TZ) host $(hostname) cores $JOBS cpu_mode=$CPU budget=${BUDGET}s layers=$LAYERS"
[ -f .device/wcos-gpu.tar.xz ] || { say "FAIL: .device/wcos-gpu.tar.xz missing (make cuda-host, carry .device)"; exit 1; }
rm -rf "$W/build" "$W/src" "$W/cuda" "$W"/{fa,e-abl,e-abl-row,freqs,e-plain,q4-plain}{,.partial} "$W"/*.done
# python3's tarfile reads xz where the xz tool is missing.
tar -C "$W" -xJf .device/wcos-gpu.tar.xz 2>/dev/null ||
	python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .device/wcos-gpu.tar.xz "$W" ||
	{ say "FAIL: unpack"; exit 1; }
BIN=$W/build/wcos-cuda
TEST=$W/build/bindings-dyn.test
LIB=$W/build/lib
say "unpacked: $(du -sh "$W/build" | cut -f1) in $(elapsed)s; libs: $(cd "$LIB" && ls | tr '\n' ' ')"
export WCOS_CACHE=$W/cache
# A fault in a native library prints its pc and the library callers first (native/crashdiag.c); the
# binaries' offsets map to functions afterwards with `go tool nm -n` on the build/ that was shipped.
export WCOS_CRASH_DIAG=1
"$BIN" synth --help >/dev/null 2>&1 || say "FAIL: $BIN has no synth command (register synthCommand in cmd/wcos/main.go, make cuda-host)"

# ---------- (a) the card ----------
step "(a) card"
if [ "$CPU" = 1 ]; then
	say "(a) CPU mode: no nvidia-smi"
else
	say "(a) $(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | head -n 4 | tr '\n' ';')"
	say "(a) $(nvidia-smi 2>&1 | grep -o 'CUDA Version: [0-9.]*' | head -n 1); nvcc: $( (command -v nvcc || ls /usr/local/cuda/bin/nvcc) 2>/dev/null | head -n 1)"
fi

# ---------- synthetic models, in the background (niced) while CUDA compiles ----------
if [ "$CPU" = 1 ]; then
	SHAPE=(--layers 4 --d-model 256 --d-mlp 512 --heads 4)
	NL=4 NFF=512 LEN=128
else
	SHAPE=(--layers "$LAYERS" --d-model 4096 --d-mlp 11008 --heads 32)
	NL=$LAYERS NFF=11008 LEN=1024
fi
F16=$W/synth-f16.gguf Q4=$W/synth-q4_k_m.gguf
(
	s=$(date +%s)
	nice -n 10 "$BIN" synth "${SHAPE[@]}" --vocab 50304 --clip-qkv 8 --type f16 -o "$F16" >"$W/synth.out" 2>&1 &&
		echo "synth f16: $(($(date +%s) - s))s, $(du -h "$F16" | cut -f1)" >"$W/synth-f16.done" &&
		s=$(date +%s) &&
		nice -n 10 "$BIN" synth --type q4_k_m --from "$F16" -o "$Q4" >>"$W/synth.out" 2>&1 &&
		echo "synth q4_k_m: $(($(date +%s) - s))s, $(du -h "$Q4" | cut -f1)" >"$W/synth-q4.done"
) >/dev/null 2>&1 &
SYNTH_PID=$!

# ---------- the CUDA backend, against the carried libggml-base ----------
if [ "$CPU" != 1 ]; then
	step "build libggml-cuda.so and libwcos-cuda.so"
	command -v nvcc >/dev/null || export PATH=$PATH:/usr/local/cuda/bin
	s=$(date +%s)
	GEN=()
	command -v ninja >/dev/null && GEN=(-G Ninja)
	if cmake -S native/cmake -B "$W/cuda" "${GEN[@]}" -DOLL="$W/src/ollama" -DWCOS_CUDA=ON -DWCOS_LLAMA=OFF \
		-DWCOS_LIB_DIR="$W/cuda/lib" -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" >"$W/cmake.out" 2>&1 &&
		cmake --build "$W/cuda" --target ggml-cuda wcos-cuda -j "$JOBS" >>"$W/cmake.out" 2>&1; then
		cp -a "$W"/cuda/lib/libggml-cuda.so* "$W"/cuda/lib/libwcos-cuda.so "$LIB/"
		say "build: libggml-cuda.so $(du -h "$LIB/libggml-cuda.so" | cut -f1) in $(($(date +%s) - s))s; needs: $(ldd "$LIB/libggml-cuda.so" | grep -E 'ggml|cublas|cudart|libcuda' | awk '{print $1"=>"$3}' | tr '\n' ' ')"
	else
		keep cmake "$W/cmake.out"
		say "FAIL: CUDA build after $(($(date +%s) - s))s (see cmake.txt); (b) shows the missing-backend error, (c) is skipped"
		CUDA_FAILED=1
	fi
fi
GPU_LAYERS=999
[ "$CPU" = 1 ] && GPU_LAYERS=0

# ---------- (b) tiny-olmo ----------
step "(b) tiny-olmo"
# tiny-olmo comes from the binary's embedded copy (converted into $WCOS_CACHE), so the call need not
# carry models/ (the working tree that travels is limited to 64 MiB).
"$BIN" info --model "" >"$W/convert.out" 2>&1 || { keep convert "$W/convert.out"; say "FAIL: convert tiny-olmo"; }
TINY=$(ls "$WCOS_CACHE"/tiny-olmo-*-f32.gguf 2>/dev/null | head -n 1)
env_gpu=(WCOS_TEST_GPU=1)
[ "$CPU" = 1 ] && env_gpu=(WCOS_GPU_CHECK_CPU=1)
env "${env_gpu[@]}" WCOS_TINY_GGUF="$TINY" WCOS_FIXTURES="$ROOT/testdata/fixtures" timeout "$(lim 180)" \
	"$TEST" -test.v -test.count=1 -test.run '^(TestDynamicOneGGML|TestGPUMatchesReference|TestGPUDeviceHooks|TestGPUGenerate|TestGPUSingleToken|TestGPUMatMul)$' >"$W/test.out" 2>&1
rc=$?
keep test "$W/test.out"
grep -E '^\s+(dynamic|device)_test.go:[0-9]+: ' "$W/test.out" | sed -E 's/^\s*(dynamic|device)_test.go:[0-9]*: /(b) /' | while read -r l; do say "$l"; done
say "(b) tests: $(grep -E '^(--- |ok|PASS|FAIL)' "$W/test.out" | tr '\n' ' ') rc=$rc"
# Is cuBLAS's TF32 behind the GPU's distance from the reference? The driver can forbid it.
if [ "$CPU" != 1 ]; then
	env "${env_gpu[@]}" NVIDIA_TF32_OVERRIDE=0 WCOS_TINY_GGUF="$TINY" WCOS_FIXTURES="$ROOT/testdata/fixtures" timeout "$(lim 60)" \
		"$TEST" -test.v -test.count=1 -test.run '^TestGPUMatchesReference$' >"$W/test-tf32.out" 2>&1
	rc=$?
	say "(b) NVIDIA_TF32_OVERRIDE=0: $(grep -E 'GPU vs HF' "$W/test-tf32.out" | head -n 2 | sed 's/^\s*[a-z_]*\.go:[0-9]*: //' | tr '\n' ';') rc=$rc"
fi
# Flash attention in the default (non-exact) mode: llama.cpp logs its decision. tiny-olmo's head dim
# is 256/8 = 32, for which ggml's CUDA backend has no flash-attention kernel (ggml-cuda/fattn.cu: K
# head dims 40, 64, 72, 80, 96, 112, 128, 256, 576), so on the GPU "set to disabled" is expected here;
# (c) prints the decision for the OLMo-7B shape (head dim 128).
WCOS_VERBOSE=1 timeout "$(lim 60)" "$BIN" entropy --model "$TINY" --max-tokens 512 --gpu-layers "$GPU_LAYERS" --out "$W/fa" >"$W/fa.out" 2>&1
say "(b) entropy exit code $? (2 = crashed; a crash at exit was seen before the backends were pinned)"
say "(b) flash attention: $(grep -iE 'flash.attn|flash attention' "$W/fa.out" | sort -u | head -n 4 | tr '\n' ';' | tr -s ' ')"
say "(b) offload: $(grep -iE 'offloaded|using device|CUDA0 model buffer' "$W/fa.out" | sort -u | head -n 4 | tr '\n' ';' | tr -s ' ')"
say "(b) tiny entropy (default mode): $(grep -oE '[0-9]+ tok/s( \([0-9]+ tok/s after the first batch\))? in [0-9.]+[a-zµ]+' "$W/fa.out" | tail -n 1) $(grep '^wcos:' "$W/fa.out")"

# ---------- (c) benchmarks ----------
step "(c) benchmarks"
if [ "${CUDA_FAILED:-0}" = 1 ]; then
	pkill -P "$SYNTH_PID" 2>/dev/null # the synth child of the background job, then the job
	kill "$SYNTH_PID" 2>/dev/null
	say "(c) SKIPPED: no CUDA backend"
	exit 1
fi
# wait_for FILE: until the background synth writes FILE or ends, within the budget (less 60 s).
wait_for() {
	while [ ! -f "$1" ] && kill -0 "$SYNTH_PID" 2>/dev/null && (($(left) > 60)); do sleep 1; done
	[ -f "$1" ] && say "(c) $(cat "$1") (t=$(elapsed)s)"
}
wait_for "$W/synth-f16.done" || { keep synth "$W/synth.out"; say "FAIL: synth f16 not ready (see synth.txt)"; }

# Token rows of exactly LEN random ids: batches of exactly 4×LEN tokens.
python3 - "$W/tokens.jsonl" "$LEN" "$BATCHES" <<'EOF'
import json, random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    for _ in range(4 * int(sys.argv[3])):
        f.write(json.dumps({"input_ids": [random.randrange(50277) for _ in range(int(sys.argv[2]))]}) + "\n")
EOF
# 66 neurons in each of the last 8 layers, spread over the layer.
: >"$W/neurons.txt"
for ((l = NL - 8 < 0 ? 0 : NL - 8; l < NL; l++)); do
	for ((i = 0; i < 66; i++)); do echo "$l.$((i * (NFF / 66)))" >>"$W/neurons.txt"; done
done
TOKENS=$((4 * LEN * BATCHES))
LEFT_FOR_FREQS=90 # seconds at most for freqs (its outputs, RW classes from the weights, come after the rate)
DATA=(--dataset "$W/tokens.jsonl" --batch-size 4 --max-length "$LEN" --gpu-layers "$GPU_LAYERS")
COMMON=("${DATA[@]}" --max-tokens "$TOKENS")

# peak_mem FILE: polls the GPU's used memory (MiB) and keeps the maximum in FILE until killed.
peak_mem() {
	local max=0 v
	while :; do
		v=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "${WCOS_DEVICE:-0}" 2>/dev/null | head -n 1)
		if [[ $v =~ ^[0-9]+$ ]] && ((v > max)); then max=$v && echo "$max" >"$1"; fi
		sleep 0.2
	done
}

# bench NAME MIN_SECONDS MAX_SECONDS COMMAND...: runs COMMAND (with WCOS_VERBOSE=1, so that its
# output has llama.cpp's log) if MIN_SECONDS are left, for at most MAX_SECONDS (and the time left).
# The rates are the progress bar's last: its final line ("N tok/s (M tok/s after the first batch) in
# T": overall from the start of the first batch, and from the end of the first batch to the last), or
# the last periodic one (overall only, marked partial) when the command was cut.
bench() {
	local name=$1 need=$2 max=$3
	shift 3
	local l
	l=$(left)
	if ((l < need)); then
		say "(c) $name: SKIPPED, ${l}s left (needs ~${need}s)"
		return
	fi
	local base=0 poll=""
	if [ "$CPU" != 1 ]; then
		base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "${WCOS_DEVICE:-0}" 2>/dev/null | head -n 1)
		echo 0 >"$W/$name.mem"
		peak_mem "$W/$name.mem" &
		poll=$!
	fi
	local s rc
	s=$(date +%s)
	WCOS_VERBOSE=1 timeout $((l - 3 < max ? l - 3 : max)) "$@" >"$W/$name.out" 2>&1
	rc=$?
	[ -n "$poll" ] && kill "$poll" 2>/dev/null && wait "$poll" 2>/dev/null
	keep "$name" "$W/$name.out"
	local line rate warm="" mem="n/a (CPU mode)" scaled=""
	line=$(grep -oE '[0-9]+/[0-9]+ tok [0-9]+ tok/s( \([0-9]+ tok/s after the first batch\))?( in [0-9.]+[a-zµ]+)?' "$W/$name.out" | tail -n 1)
	rate=$(echo "$line" | grep -oE '^[0-9]+/[0-9]+ tok [0-9]+ tok/s')
	[[ $line =~ \(([0-9]+)\ tok/s\ after ]] && warm=${BASH_REMATCH[1]}
	if [ -z "$line" ]; then
		rate="no rate"
	elif [[ $line != *" in "* ]]; then
		rate="$rate (partial; no rate after the first batch)"
	else
		rate="$rate overall in ${line##* in }, ${warm:-n/a (one batch)}${warm:+ tok/s} after the first batch"
	fi
	[ "$CPU" != 1 ] && mem="$(cat "$W/$name.mem") MiB (before: ${base} MiB)"
	if [ "$CPU" != 1 ] && [ "$LAYERS" != 32 ] && [ -n "$line" ]; then
		# Per-layer scaling to 32 layers; the output matrix costs about half a layer.
		scaled=" | scaled to 32 layers: $(echo "$line" | awk -v n="$LAYERS" -v w="${warm:-0}" '{printf "%.0f tok/s", $3 * (n + 0.5) / 32.5; if (w > 0) printf ", %.0f tok/s after the first batch", w * (n + 0.5) / 32.5}') (MARKED: measured with $LAYERS layers)"
	fi
	say "(c) $name: $rate | peak GPU memory $mem | rc $rc, wall $(($(date +%s) - s))s$scaled"
	# llama.cpp's flash-attention decision for this model (the auto check logs "set to enabled" or
	# "set to disabled" and, when disabled, the first layer whose attention left the GPU).
	say "(c) $name flash attention: $(grep -iE 'flash.attn|flash attention' "$W/$name.out" | sort -u | head -n 4 | tr '\n' ';' | tr -s ' ')"
	# Hooks fall back to copying tensors to the host (and say so once) without libwcos-cuda.so.
	grep -m 1 'no device hooks' "$W/$name.out" | while read -r l; do say "(c) $name: $l"; done
}

if [ -f "$W/synth-f16.done" ]; then
	bench f16-entropy-ablation 40 120 "$BIN" entropy --model "$F16" "${COMMON[@]}" --neurons @"$W/neurons.txt" \
		--gate - --post + --refactor=false --out "$W/e-abl"
	# Quadrant statistics (with top-16 lists) on the device (libwcos-cuda.so); the first batch offers
	# every value as a top-k candidate. A bounded time, so that the plain runs still happen.
	bench f16-freqs 50 "$LEFT_FOR_FREQS" "$BIN" freqs --model "$F16" "${COMMON[@]}" \
		--refactor=false --out "$W/freqs"
	bench f16-plain+metrics 30 90 "$BIN" entropy --model "$F16" "${COMMON[@]}" --out "$W/e-plain"
fi
if wait_for "$W/synth-q4.done"; then
	bench q4_k_m-plain+metrics 30 90 "$BIN" entropy --model "$Q4" "${COMMON[@]}" --out "$W/q4-plain"
else
	say "(c) q4_k_m-plain+metrics: SKIPPED, no Q4_K_M model (synth.txt)"
fi
# Row by row on the GPU too? Four decodes of 1,024 tokens: a quarter of the attention and of the KV
# cache, smaller products (docs/cuda.md §6). Last, as time allows.
if [ -f "$W/synth-f16.done" ]; then
	bench f16-entropy-ablation-per-row 40 120 "$BIN" entropy --model "$F16" "${COMMON[@]}" --neurons @"$W/neurons.txt" \
		--gate - --post + --refactor=false --per-row on --out "$W/e-abl-row"
fi
# Row by row also quarters the KV cache and compute buffers: Q4_K_M's peak against the 7 GiB goal.
if [ -f "$W/synth-q4.done" ]; then
	bench q4_k_m-plain+metrics-per-row 30 90 "$BIN" entropy --model "$Q4" "${COMMON[@]}" --per-row on --out "$W/q4-plain-row"
fi
say "done in $(elapsed)s; rates: overall over $BATCHES batches of 4x$LEN tokens (the first included, model loading excluded), and from the end of the first batch to the last"

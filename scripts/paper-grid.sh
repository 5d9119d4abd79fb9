#!/usr/bin/env bash
# The paper's entropy grid with wcos (the reference's entropy_interventions_all.sh and entropy_plots.sh,
# paper-spec §4.4–4.5): one clean run; for each ablation (zero, mean) every class at full size and
# size-matched to the strengthening and weakening classes, each with its random baseline; the four
# gate±/post± conditional ablations of the weakening class; then one `wcos compare` per experiment.
#
#   scripts/paper-grid.sh OUT [wcos entropy options…]
#   MODEL=olmo-7b-0424.q8_0.gguf DATASET=dolma-small scripts/paper-grid.sh out/grid --batch-size 4
#
# Environment (defaults in brackets):
#   WCOS        the wcos binary [./wcos]
#   MODEL       --model for every command [the embedded tiny-olmo]
#   CLASSES_MODEL  the model the neuron sets are drawn from [MODEL]: e.g. the Hugging Face directory
#               when MODEL is a quantised GGUF of it, so that the classes come from the original weights
#   DATASET     --dataset [the embedded evaluation text]
#   ABLATIONS   [zero mean]; mean ablation first runs `wcos freqs` for the means (paper-spec §4.3)
#   CLASSES     comma-separated [strengthening,conditional strengthening,proportional change,
#               conditional weakening,weakening,orthogonal output]
#   SIZES       --n-neurons values, None for the whole class [None strengthening weakening]
#   COMPARE     extra `wcos compare` options, e.g. "--changed-only --f16" for the paper's tables []
#
# The reference computed in float32; pass --exact (no flash attention, float32 KV cache) for that
# precision, e.g. scripts/paper-grid.sh out/grid --exact. The default, faster mode rounds K and V to
# float16, which moves entropies by ~1e-3 and can change which tokens a tiny ablation changes.
#
# Layout: OUT/sets/<set>.txt (from `wcos neurons`), OUT/freqs, OUT/runs/clean,
# OUT/runs/<ablation>/<set>[_baseline] (set names as the reference writes them, with _ for spaces:
# weakening, conditional_weakening_strengthening, weakening_gate-_post+), OUT/plots/<experiment>
# (None_zero_ablation, strengthening_zero_ablation, weakening_zero_ablation,
# weakening_complete_zero_ablation, and the same for mean_ablation), OUT/grid.log.
# Rerunning continues: finished runs are skipped and an interrupted one resumes from its checkpoint.
# A set the model cannot provide (a class without neurons, a subset larger than its class, a baseline
# layer without enough other neurons) is skipped with a line in the log, as the reference skipped it.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OUT=$1
shift
EXTRA=("$@")
WCOS=${WCOS:-./wcos}
ABLATIONS=${ABLATIONS:-zero mean}
SIZES=${SIZES:-None strengthening weakening}
IFS=, read -r -a CLASS_LIST <<<"${CLASSES:-strengthening,conditional strengthening,proportional change,conditional weakening,weakening,orthogonal output}"
read -r -a COMPARE_ARGS <<<"${COMPARE:-}"
COMMON=()
[ -n "${MODEL:-}" ] && COMMON+=(--model "$MODEL")
DATA=()
[ -n "${DATASET:-}" ] && DATA+=(--dataset "$DATASET")

mkdir -p "$OUT/runs" "$OUT/plots"
LOG=$OUT/grid.log
# shellcheck source=grid-lib.sh
source "$(dirname "$0")/grid-lib.sh"
say "paper-grid $(date -u +%FT%TZ): wcos $("$WCOS" --version 2>&1 | awk '{print $NF}'), ${MODEL:-embedded tiny-olmo}, ${DATASET:-embedded text}, ablations: $ABLATIONS"

# entropy DIR ARGS…: one `wcos entropy` run into DIR unless DIR holds one already.
entropy() {
	local dir=$1
	shift
	if [ -f "$dir/metrics.safetensors" ]; then
		say "done already: $dir"
		return 0
	fi
	say "run: $dir"
	local err
	if ! err=$("$WCOS" entropy "${COMMON[@]}" "${DATA[@]}" "$@" "${EXTRA[@]}" --out "$dir" 2>&1 >/dev/null | tee -a "$LOG" | tail -n 1); then
		say "FAILED $dir: $err"
		exit 1
	fi
}

# name CLASS SIZE: the reference's folder name of a set, with _ for spaces. A class matched to its own
# size is the whole class, which the reference names and skips as such.
name() {
	local n=${1// /_}
	[ "$2" = None ] || [ "$2" = "$1" ] || n+=_${2// /_}
	echo "$n"
}

# plot EXPERIMENT RUN_DIR…: compare the finished runs among RUN_DIR… with the clean run.
plot() {
	local exp=$1 runs=() d
	shift
	for d in "$@"; do
		[ -f "$d/metrics.safetensors" ] && runs+=("$d")
	done
	if [ ${#runs[@]} -eq 0 ]; then
		say "no runs for $exp"
		return
	fi
	# compare replaces the folder only when it has finished.
	if ! "$WCOS" compare --clean "$OUT/runs/clean" "${COMPARE_ARGS[@]}" --out "$OUT/plots/$exp" "${runs[@]}" >"$OUT/plots/$exp.txt" 2>>"$LOG"; then
		say "FAILED compare $exp: $(tail -n 1 "$LOG")"
		exit 1
	fi
	say "plotted: $OUT/plots/$exp (${#runs[@]} runs)"
}

SETS_FROM=()
[ -n "${CLASSES_MODEL:-${MODEL:-}}" ] && SETS_FROM=(--model "${CLASSES_MODEL:-$MODEL}")

entropy "$OUT/runs/clean"
for abl in $ABLATIONS; do
	args=(--ablation "$abl")
	if [ "$abl" = mean ]; then
		if [ ! -f "$OUT/freqs/summary.safetensors" ]; then
			say "run: $OUT/freqs"
			"$WCOS" freqs "${COMMON[@]}" "${DATA[@]}" "${EXTRA[@]}" --out "$OUT/freqs" >/dev/null 2>>"$LOG"
		fi
		args+=(--means "$OUT/freqs/summary.safetensors")
	fi
	dir=$OUT/runs/${abl}_ablation
	for size in $SIZES; do
		sets=()
		for cls in "${CLASS_LIST[@]}"; do
			n=$(name "$cls" "$size")
			sz=()
			[ "$size" = None ] || sz=(--n-neurons "$size")
			set_file "$n" --set "$cls" "${sz[@]}" || continue
			entropy "$dir/$n" --neurons "@$OUT/sets/$n.txt" "${args[@]}"
			sets+=("$dir/$n")
			set_file "${n}_baseline" --set "$cls" "${sz[@]}" --baseline &&
				entropy "$dir/${n}_baseline" --neurons "@$OUT/sets/${n}_baseline.txt" "${args[@]}" || true
		done
		# compare adds each set's _baseline folder after it.
		plot "${size}_${abl}_ablation" "${sets[@]}"
	done
	cond=("$dir/weakening")
	if set_file weakening --set weakening; then
		for g in + -; do
			for p in + -; do
				entropy "$dir/weakening_gate${g}_post${p}" --neurons "@$OUT/sets/weakening.txt" --gate "$g" --post "$p" "${args[@]}"
				cond+=("$dir/weakening_gate${g}_post${p}")
			done
		done
	fi
	plot "weakening_complete_${abl}_ablation" "${cond[@]}"
done
say "paper-grid finished: tables and figures in $OUT/plots"

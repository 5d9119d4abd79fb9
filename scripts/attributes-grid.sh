#!/usr/bin/env bash
# The paper's attributes-rate grid with wcos (the reference's attributes/enrichment.py over its
# --subsets and --n_neurons, and attributes_orthogonal.sh; paper-spec §5): the facts the model knows
# (`wcos knowns`), then for each ablation (zero, mean) and each set — a class at 24, 243 or all of its
# neurons, named as the reference names it (weakening24, conditional weakening243, weakening) — one
# `wcos attributes` run: clean, the set ablated and its random baseline ablated, with its rates table
# and figure.
#
#   scripts/attributes-grid.sh OUT [wcos attributes options…]
#   MODEL=olmo-7b-0424.f16.gguf FACTS=known_1000.json scripts/attributes-grid.sh out/attr-grid
#
# Environment (defaults in brackets):
#   WCOS        the wcos binary [./wcos]
#   MODEL       --model for every command [the embedded tiny-olmo]
#   CLASSES_MODEL  the model the neuron sets are drawn from [MODEL] (see paper-grid.sh)
#   FACTS       the facts `wcos knowns` filters [the embedded facts]; KNOWN=0 uses FACTS unfiltered
#   ATTRIBUTES  --attributes: wiki.csv from `wcos wiki`, or names [the embedded subject_attributes.json]
#   ABLATIONS   [zero mean]; mean ablation needs MEANS, a `wcos freqs` summary, or runs `wcos freqs`
#               on DATASET [the embedded evaluation text]
#   CLASSES     comma-separated [strengthening,conditional strengthening,proportional change,
#               weakening,conditional weakening,orthogonal output]
#   SIZES       --n-neurons values, None for the whole class [24 243 None]
#
# Layout: OUT/knowns, OUT/sets/<set>.txt and <set>_baseline.txt, OUT/freqs,
# OUT/runs/<ablation>_ablation/<set> (spaces as _), each a `wcos attributes` folder with
# rates_by_layer.csv and attributes_<ablation>_ablation.png/.svg, and OUT/grid.log. Rerunning skips
# what is done. A set the model cannot provide is skipped with a line in the log; a set without a
# random baseline runs without one.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OUT=$1
shift
EXTRA=("$@")
WCOS=${WCOS:-./wcos}
ABLATIONS=${ABLATIONS:-zero mean}
SIZES=${SIZES:-24 243 None}
IFS=, read -r -a CLASS_LIST <<<"${CLASSES:-strengthening,conditional strengthening,proportional change,weakening,conditional weakening,orthogonal output}"
COMMON=()
[ -n "${MODEL:-}" ] && COMMON+=(--model "$MODEL")
SETS_FROM=()
[ -n "${CLASSES_MODEL:-${MODEL:-}}" ] && SETS_FROM=(--model "${CLASSES_MODEL:-$MODEL}")

mkdir -p "$OUT/runs"
LOG=$OUT/grid.log
# shellcheck source=grid-lib.sh
source "$(dirname "$0")/grid-lib.sh"
say "attributes-grid $(date -u +%FT%TZ): ${MODEL:-embedded tiny-olmo}, facts ${FACTS:-embedded}, ablations: $ABLATIONS"

# run FOLDER ARGS…: `wcos "$@"` into FOLDER unless it has finished (its summary.json is written last,
# with the folder, all at once).
run() {
	local dir=$1 err
	shift
	if [ -f "$dir/summary.json" ]; then
		say "done already: $dir"
		return 0
	fi
	say "run: $dir"
	if ! err=$("$WCOS" "$@" --out "$dir" 2>&1 >/dev/null | tee -a "$LOG" | tail -n 1); then
		say "FAILED $dir: $err"
		exit 1
	fi
}

FACT_ARGS=()
[ -n "${FACTS:-}" ] && FACT_ARGS=(--facts "$FACTS")
if [ "${KNOWN:-1}" != 0 ]; then
	run "$OUT/knowns" knowns "${COMMON[@]}" "${FACT_ARGS[@]}"
	FACT_ARGS=(--facts "$OUT/knowns/knowns.jsonl")
fi
[ -n "${ATTRIBUTES:-}" ] && FACT_ARGS+=(--attributes "$ATTRIBUTES")

for abl in $ABLATIONS; do
	args=(--ablation "$abl")
	if [ "$abl" = mean ]; then
		means=${MEANS:-$OUT/freqs/summary.safetensors}
		if [ -z "${MEANS:-}" ] && [ ! -f "$means" ]; then
			data=()
			[ -n "${DATASET:-}" ] && data=(--dataset "$DATASET")
			say "run: $OUT/freqs"
			"$WCOS" freqs "${COMMON[@]}" "${data[@]}" --out "$OUT/freqs" >/dev/null 2>>"$LOG"
		fi
		args+=(--means "$means")
	fi
	for size in $SIZES; do
		for cls in "${CLASS_LIST[@]}"; do
			n=$cls
			sz=()
			[ "$size" = None ] || { n+=$size; sz=(--n-neurons "$size"); }
			f=${n// /_}
			set_file "$f" --set "$cls" "${sz[@]}" || continue
			base=()
			set_file "${f}_baseline" --set "$cls" "${sz[@]}" --baseline && base=(--baseline-neurons "@$OUT/sets/${f}_baseline.txt")
			run "$OUT/runs/${abl}_ablation/$f" attributes "${COMMON[@]}" "${FACT_ARGS[@]}" --neurons "@$OUT/sets/$f.txt" \
				--set-name "$n" "${base[@]}" "${args[@]}" "${EXTRA[@]}"
		done
	done
done
say "attributes-grid finished: rates and figures in $OUT/runs"

# Shared by paper-grid.sh and attributes-grid.sh (sourced, not run): logging and neuron set files.
# Needs OUT, WCOS, LOG and SETS_FROM (the --model of `wcos neurons`, or empty) to be set.

say() { echo "$*" | tee -a "$LOG" >&2; }

# set_file NAME ARGS…: the neuron set `wcos neurons ARGS…` into OUT/sets/NAME.txt unless it is there.
# Returns 3 when the model cannot provide the set (wcos says "--set: …"), after logging it.
set_file() {
	local f=$OUT/sets/$1.txt err
	shift
	[ -f "$f" ] && return 0
	mkdir -p "$OUT/sets"
	if err=$("$WCOS" neurons "${SETS_FROM[@]}" "$@" -o "$f" 2>&1 | tee -a "$LOG" | tail -n 1); then
		return 0
	fi
	if [[ $err == "wcos: --set:"* || $err == "wcos: --n-neurons:"* ]]; then
		say "skipped ${f%.txt}: ${err#wcos: }"
		return 3
	fi
	say "FAILED $f: $err"
	exit 1
}

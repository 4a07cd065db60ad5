# bench/lib.sh - what the bench scripts share: timing, medians, the result
# table. Sourced; sets nothing but functions and the results array.
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mb() { echo "$1 / $2 / 1048576" | bc -l; }
results=()
report() { # name value unit baseline ratio goal cmp
	local verdict
	verdict=$(echo "$5 $7 $6" | awk '{ ok = ($2 == ">=") ? ($1 >= $3) : ($1 <= $3); print ok ? "PASS" : "FAIL" }')
	results+=("$(printf '%-44s %10s %-6s %10s %7.2f  (goal %s %s)  %s' "$1" "$2" "$3" "$4" "$5" "$7" "$6" "$verdict")")
	echo "${results[-1]}"
}
# the closing table
summary() { # what
	echo
	echo "== aimfs bench: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r), $1"
	printf '%s\n' "${results[@]}"
	echo "$(printf '%s\n' "${results[@]}" | grep -c PASS) passed, $(printf '%s\n' "${results[@]}" | grep -c FAIL) failed"
}

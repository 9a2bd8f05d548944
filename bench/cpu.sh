# bench/cpu.sh: CPU time counters that bench/run.sh and bench/mysql.sh read
# before and after each timed copy (sourced, defines functions only)

# CPU time the whole machine has spent so far, in clock ticks (every process,
# the kernel included; idle and I/O wait left out)
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# tree_ticks PID: the clock ticks process PID has used so far, with those of
# its children that have ended (a PostgreSQL server's backends once they
# exit) and of those alive now (its backends and the server's own helpers).
# The difference of two readings is what the server spent in between, its
# connections that came and went included. A process that is gone gives 0.
tree_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '{
		pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
		# f[2] the parent, f[12] to f[15] utime, stime, cutime, cstime
		if (pid == root) s += f[12] + f[13] + f[14] + f[15]
		else if (f[2] == root) s += f[12] + f[13]
	} END { print s + 0 }'
}

# cpu_read SOURCE_PID TARGET_PID [TOOL_PID]: one reading of the machine's,
# the source server's, the target server's and the tool's ticks ("-" when
# no tool process is given), to hand to cpu_split
cpu_read() {
	local tool=-
	if [ -n "${3:-}" ]; then tool=$(tree_ticks "$3"); fi
	echo "$(cpu_ticks) $(tree_ticks "$1") $(tree_ticks "$2") $tool"
}

# cpu_split BEFORE AFTER: the CPU seconds spent between two readings, as
# "machine source target tool"; without a tool process, tool is the rest of
# the machine (the method's clients and the kernel)
cpu_split() {
	awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= 3; i++) s[i] = (y[i] - x[i]) / hz
		tool = x[4] == "-" ? s[1] - s[2] - s[3] : (y[4] - x[4]) / hz
		printf "%.1f %.1f %.1f %.1f\n", s[1], s[2], s[3], tool
	}'
}

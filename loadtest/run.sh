#!/usr/bin/env bash
# loadtest/run.sh: hammer ferryd's read endpoints with wrk while a run is
# copying tables, and check that the run still ends as it should.
#
# What happens (everything under one temporary directory, removed on exit):
#   1. a throwaway PostgreSQL cluster that listens only on a unix socket in
#      that directory, with a source database "src" (tables readings, bulk
#      and devices) and a target database "dst";
#   2. for each scenario (connections : ferryd --max-connections):
#        * "dst" is dropped and created empty, and a fresh ferryd (embedded
#          metadata database, kept in the same directory across scenarios,
#          --listen 127.0.0.1:0) is started with that connection limit;
#        * a run of the job "loadtest" is triggered; public.readings is slowed
#          down by its "where" (pg_sleep every N rows), so the run lasts
#          longer than the load;
#        * once that table is loading, wrk opens the connections and, for
#          LOADTEST_DURATION seconds, requests the read endpoints in turn
#          (loadtest/read_paths.lua counts non-2xx answers and bodies);
#          meanwhile ferryd's threads and memory, its metadata connections and
#          a fresh client asking for the run once a second are sampled;
#        * the run must still be active when wrk stops, must then end
#          "succeeded", and every target table must hold the source's rows
#          (count and checksum, and the counts the API reports);
#        * ferryd is stopped;
#   3. a table is printed and written, with the machine and the date, to
#      loadtest/results/<date>.md.
#
# The exit status is 0 only when every run succeeded with the right rows,
# ferryd stayed up, no scenario saw a non-2xx answer, and no scenario whose
# connections fit under its --max-connections saw a socket error or left
# connections waiting unaccepted. In a scenario with more connections than
# --max-connections, socket errors and connections waiting in the accept
# queue are what the limit does to the connections over it: they are
# reported, not counted as a failure.
#
# Environment:
#   LOADTEST_SCENARIOS="C:M ..."  connections and ferryd --max-connections per
#                                 scenario (default "200:512 400:512 400:256";
#                                 256 is ferryd's default limit)
#   LOADTEST_DURATION=S           seconds of load per scenario (default 25)
#   LOADTEST_THREADS=N            wrk threads (default 2)
#   LOADTEST_ROWS=N               rows of the slowed table readings (default 300000)
#   LOADTEST_BULK_ROWS=N          rows of the table bulk, copied at full speed
#                                 (default 400000)
#   LOADTEST_PACE_S=S             how long reading public.readings once takes at
#                                 least, in seconds (default LOADTEST_DURATION + 20;
#                                 the run reads it twice: the copy and the count check)
#   LOADTEST_NOTE=TEXT            a remark written into the results
#   LOADTEST_RESULTS=FILE         where to write the results (default
#                                 loadtest/results/<date>.md, -2, -3... when taken)
#   FERRYD=PATH                   the ferryd binary (default build/ferryd)
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
ferryd=${FERRYD:-$repo/build/ferryd}
lua=$here/read_paths.lua

scenarios=${LOADTEST_SCENARIOS:-"200:512 400:512 400:256"}
duration=${LOADTEST_DURATION:-25}
wrk_threads=${LOADTEST_THREADS:-2}
rows=${LOADTEST_ROWS:-300000}
bulk_rows=${LOADTEST_BULK_ROWS:-400000}
pace_s=${LOADTEST_PACE_S:-}
note=${LOADTEST_NOTE:-}
results=${LOADTEST_RESULTS:-}

job=loadtest
wrk_timeout_s=30  # a request slower than this counts as a wrk timeout
sleep_s=0.02      # one pg_sleep in the where of public.readings
device_rows=50

tmp=""
pg_bin=""
sock=""
cluster_started=""
ferry_pid=""
ferry_log=""
base=""
sampler_pid=""
probe_pid=""
job_id=""
pace_every=""
have_ss=""

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'loadtest: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- helpers

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$tmp" && runuser -u postgres -- "$@")
	else
		(cd "$tmp" && "$@")
	fi
}

# psql on the throwaway cluster: sql DATABASE [psql args...]
sql() {
	local db=$1
	shift
	"$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p 5432 -U postgres -d "$db" "$@"
}

# psql on ferryd's embedded metadata database; prints nothing when it does not answer
meta_sql() {
	"$pg_bin/psql" -X -q -A -t -h "$tmp/ferry/run" -p 5432 -U postgres -d ferry \
		-c "$1" 2>/dev/null || true
}

# api METHOD PATH [JSON]: print the body; fail unless the status is 2xx.
api() {
	local method=$1 path=$2 body=${3-} code
	local args=(-sS -X "$method" -o "$tmp/response" -w '%{http_code}' --max-time 60)
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$body")
	fi
	code=$(curl "${args[@]}" "$base$path") || die "$method $path: no answer from ferryd"
	if [[ $code != 2* ]]; then
		printf 'loadtest: %s %s answered %s:\n' "$method" "$path" "$code" >&2
		cat "$tmp/response" >&2
		exit 1
	fi
	cat "$tmp/response"
}

show_tail() {
	if [ -s "$1" ]; then
		printf -- '--- last lines of %s ---\n' "$1" >&2
		tail -n 25 "$1" >&2
	fi
}

# Wait until a process of ours has exited, up to $2 seconds; false if it has not.
wait_gone() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

stop_helper() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

stop_ferryd() {
	[ -n "$ferry_pid" ] || return 0
	if kill -0 "$ferry_pid" 2>/dev/null; then
		kill -TERM "$ferry_pid" 2>/dev/null || true
		if ! wait_gone "$ferry_pid" 60; then
			echo "loadtest: ferryd (pid $ferry_pid) did not stop within 60 s; killing it" >&2
			kill -KILL "$ferry_pid" 2>/dev/null || true
		fi
	fi
	wait "$ferry_pid" 2>/dev/null || true
	ferry_pid=""
}

cleanup() {
	local rc=$?
	trap '' INT TERM
	stop_helper "$sampler_pid"
	stop_helper "$probe_pid"
	stop_ferryd
	if [ -n "$tmp" ] && [ -f "$tmp/ferry/pg/postmaster.pid" ]; then
		echo "loadtest: ferryd left its metadata PostgreSQL running; stopping it" >&2
		as_pg "$pg_bin/pg_ctl" -D "$tmp/ferry/pg" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -n "$cluster_started" ]; then
		as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		rm -rf "$tmp"
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- checks and set-up

check_settings() {
	local s c m
	is_count "$duration" || die "LOADTEST_DURATION must be a whole number of seconds"
	is_count "$wrk_threads" || die "LOADTEST_THREADS must be a whole number"
	is_count "$rows" && [ "$rows" -ge 1000 ] || die "LOADTEST_ROWS must be at least 1000"
	is_count "$bulk_rows" || die "LOADTEST_BULK_ROWS must be a whole number"
	[ -n "$pace_s" ] || pace_s=$((duration + 20))
	is_count "$pace_s" || die "LOADTEST_PACE_S must be a whole number of seconds"
	[ -n "$scenarios" ] || die "LOADTEST_SCENARIOS is empty"
	for s in $scenarios; do
		[[ $s =~ ^([0-9]+):([0-9]+)$ ]] || die "scenario \"$s\" must look like 400:512"
		c=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]}
		is_count "$c" && is_count "$m" || die "scenario \"$s\": numbers must be positive"
		[ "$c" -ge "$wrk_threads" ] || die "scenario \"$s\": fewer connections than wrk threads"
		[ "$c" -le 5000 ] && [ "$m" -le 5000 ] || die "scenario \"$s\": at most 5000 connections"
	done
	# one pg_sleep every $pace_every rows makes one read of readings last $pace_s seconds
	pace_every=$(awk -v r="$rows" -v p="$pace_s" -v s="$sleep_s" \
		'BEGIN { n = int(r * s / p); print (n < 1 ? 1 : n) }')
}

check_tools() {
	local missing=() t
	for t in wrk curl jq awk timeout ps; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}; 'make loadtest' as root installs wrk, 'make deps' the rest"
	[ -x "$ferryd" ] || die "$ferryd not found; run 'make' first"
	[ -f "$lua" ] || die "$lua not found"
	if command -v ss >/dev/null 2>&1; then have_ss=yes; fi
	if [ "$(id -u)" -eq 0 ]; then
		command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is needed when running as root"
		id postgres >/dev/null 2>&1 || die "running as root needs the user \"postgres\""
	fi
	local dir
	dir=$(pg_config --bindir 2>/dev/null || true)
	if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
		dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	fi
	[ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/psql" ] ||
		die "PostgreSQL server binaries not found; run 'make deps-build' (as root)"
	pg_bin=$dir
	# wrk and ferryd each need a descriptor per connection, and then some
	local most=0 s c
	for s in $scenarios; do
		c=${s%%:*}
		[ "$c" -le "$most" ] || most=$c
	done
	if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((most * 2 + 256)) ]; then
		ulimit -n $((most * 2 + 256)) 2>/dev/null ||
			die "open files limit $(ulimit -n) is too low for $most connections; raise it (ulimit -n)"
	fi
}

start_cluster() {
	sock=$tmp/sock
	mkdir "$sock"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$tmp" "$sock"
	fi
	say "starting a throwaway PostgreSQL cluster (unix socket only) in $tmp"
	as_pg "$pg_bin/initdb" -D "$tmp/pg" -A trust -N -U postgres -E UTF8 --locale=C \
		>"$tmp/initdb.log" 2>&1 || {
		show_tail "$tmp/initdb.log"
		die "initdb failed"
	}
	cat >>"$tmp/pg/postgresql.conf" <<-EOF

		# throwaway load test cluster: private unix socket only, no durability
		listen_addresses = ''
		port = 5432
		unix_socket_directories = '$sock'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_wal_size = '1GB'
	EOF
	cluster_started=yes
	as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/postgres.log" -w -t 60 start >/dev/null || {
		show_tail "$tmp/postgres.log"
		die "the PostgreSQL cluster did not start"
	}
	sql postgres -c 'CREATE DATABASE src'
}

load_source() {
	say "source: $rows rows in readings (slowed), $bulk_rows in bulk, $device_rows in devices"
	sql src -v rows="$rows" -v bulk_rows="$bulk_rows" -v device_rows="$device_rows" <<-'EOF'
		CREATE TABLE devices (
		    id        int PRIMARY KEY,
		    name      text NOT NULL,
		    site      text NOT NULL,
		    added_at  timestamptz NOT NULL
		);
		INSERT INTO devices
		SELECT i, 'sensor-' || lpad(i::text, 3, '0'), (ARRAY['cellar', 'greenhouse', 'lab'])[1 + i % 3],
		       timestamptz '2024-01-01 00:00:00+00' + make_interval(days => i)
		  FROM generate_series(1, :device_rows) AS g(i);

		CREATE TABLE readings (
		    id         bigint PRIMARY KEY,
		    device_id  int NOT NULL REFERENCES devices,
		    ts         timestamptz NOT NULL,
		    temp       double precision,
		    humidity   double precision,
		    ok         boolean NOT NULL
		);
		INSERT INTO readings
		SELECT i, 1 + i % :device_rows,
		       timestamptz '2024-03-01 00:00:00+00' + make_interval(secs => i * 5),
		       round((20 + 5 * sin(i / 1000.0) + random())::numeric, 2)::float8,
		       round((40 + 20 * random())::numeric, 1)::float8,
		       random() > 0.01
		  FROM generate_series(1, :rows) AS g(i);

		CREATE TABLE bulk (
		    id          bigint PRIMARY KEY,
		    account     text NOT NULL,
		    amount      numeric(12, 2) NOT NULL,
		    memo        text,
		    created_at  timestamptz NOT NULL
		);
		INSERT INTO bulk
		SELECT i, 'acct-' || (i % 9973), round((random() * 10000)::numeric, 2),
		       md5(i::text) || md5((i * 7)::text),
		       timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => i)
		  FROM generate_series(1, :bulk_rows) AS g(i);
		ANALYZE;
	EOF
	# what every target table must end up holding
	sql src -A -t -F ' ' >"$tmp/source.sums" <<-'EOF'
		SELECT 'public.bulk', count(*), coalesce(sum(hashtext(t::text)), 0) FROM bulk t
		UNION ALL SELECT 'public.devices', count(*), coalesce(sum(hashtext(t::text)), 0) FROM devices t
		UNION ALL SELECT 'public.readings', count(*), coalesce(sum(hashtext(t::text)), 0) FROM readings t
		ORDER BY 1;
	EOF
}

# Start ferryd with connection limit $1; sets ferry_pid, ferry_log and base.
start_ferryd() {
	local limit=$1 port="" deadline
	ferry_log=$tmp/ferryd-$2.log
	: >"$ferry_log"
	"$ferryd" --data-dir "$tmp/ferry" --listen 127.0.0.1:0 --max-connections "$limit" \
		>>"$ferry_log" 2>&1 &
	ferry_pid=$!
	deadline=$((SECONDS + 90))
	while :; do
		port=$(sed -n 's|.* listening on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$ferry_log" |
			tail -n 1)
		[ -z "$port" ] || break
		if ! kill -0 "$ferry_pid" 2>/dev/null; then
			wait "$ferry_pid" 2>/dev/null || true
			ferry_pid=""
			show_tail "$ferry_log"
			die "ferryd exited during start-up"
		fi
		[ "$SECONDS" -lt "$deadline" ] || {
			show_tail "$ferry_log"
			die "ferryd did not start listening within 90 s"
		}
		sleep 0.1
	done
	base=http://127.0.0.1:$port
	until curl -fsS --max-time 2 -o /dev/null "$base/healthz" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || die "ferryd does not answer $base/healthz"
		sleep 0.1
	done
}

ensure_job() {
	local body src dst where existing
	src="postgresql://postgres@/src?host=$sock"
	dst="postgresql://postgres@/dst?host=$sock"
	# pg_sleep in the row's own expression (a subquery would run once, as an InitPlan)
	where="id % $pace_every <> 0 OR pg_sleep($sleep_s)::text = ''"
	body=$(jq -n --arg name "$job" --arg src "$src" --arg dst "$dst" --arg where "$where" '{
		name: $name,
		source: {dsn: $src},
		target: {dsn: $dst},
		include: ["public.*"],
		tables: {"public.readings": {where: $where}},
		load: {mode: "replace", create: true, validate: "count"}
	}')
	existing=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$base/api/v1/jobs/$job" || true)
	if [ "$existing" = 200 ]; then
		job_id=$(api PUT "/api/v1/jobs/$job" "$body" | jq -r .id)
	else
		job_id=$(api POST /api/v1/jobs "$body" | jq -r .id)
	fi
	[ -n "$job_id" ] && [ "$job_id" != null ] || die "could not store the job"
}

# ---------------------------------------------------------------- sampling

# Every half second: ferryd's threads and resident memory, how many client
# connections its metadata database has, and how many connections wait in
# the accept queue of ferryd's listening socket.
start_sampler() {
	local out=$1 pm port=${base##*:}
	pm=$(head -n 1 "$tmp/ferry/pg/postmaster.pid" 2>/dev/null || true)
	(
		while kill -0 "$ferry_pid" 2>/dev/null; do
			threads=$(awk '/^Threads:/ { print $2 }' "/proc/$ferry_pid/status" 2>/dev/null || echo 0)
			rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$ferry_pid/status" 2>/dev/null || echo 0)
			metas=0
			if [ -n "$pm" ]; then
				metas=$(ps --ppid "$pm" -o args= 2>/dev/null | grep -c '^postgres: postgres ferry ' || true)
			fi
			# connections the kernel completed that ferryd has not accepted yet
			queued=-1
			if [ -n "$have_ss" ]; then
				queued=$(ss -Hltn "sport = :$port" 2>/dev/null | awk '{ print $2; exit }')
			fi
			printf '%s %s %s %s\n' "${threads:-0}" "${rss:-0}" "${metas:-0}" "${queued:--1}"
			sleep 0.5
		done
	) >"$out" 2>/dev/null &
	sampler_pid=$!
}

# Once a second a new client (a new connection each time) asks for the run,
# as a status page or a monitoring check would during the load.
# It stops after the request under way when the file $out.stop appears.
start_probe() {
	local out=$1 run=$2
	rm -f "$out.stop"
	(
		sleep 2 # let wrk open its connections first
		while [ ! -e "$out.stop" ]; do
			answer=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 15 \
				"$base/api/v1/runs/$run" 2>/dev/null || true)
			printf '%s %s\n' "${answer:-000 0}" "$EPOCHREALTIME"
			sleep 1
		done
	) >"$out" 2>/dev/null &
	probe_pid=$!
}

stop_probe() {
	touch "$1.stop"
	if ! wait_gone "$probe_pid" 20; then
		kill -TERM "$probe_pid" 2>/dev/null || true
	fi
	wait "$probe_pid" 2>/dev/null || true
	probe_pid=""
}

# ---------------------------------------------------------------- one scenario

declare -A R # results: R[$i,key]

run_state() { api GET "/api/v1/runs/$1" | jq -r '[.state, .rows] | @tsv'; }

wait_loading() {
	local run=$1 deadline=$((SECONDS + 180)) state
	while :; do
		state=$(api GET "/api/v1/runs/$run/tables" |
			jq -r '.items[] | select(.source == "public.readings") | .state')
		[ "$state" = loading ] && return 0
		case $(run_state "$run" | cut -f1) in
		succeeded | failed | cancelled) die "run $run ended before public.readings started loading" ;;
		esac
		[ "$SECONDS" -lt "$deadline" ] || die "public.readings did not start loading within 180 s"
		sleep 0.2
	done
}

wait_finished() {
	local run=$1 deadline=$((SECONDS + pace_s * 3 + 300)) state
	while :; do
		state=$(run_state "$run" | cut -f1)
		case $state in
		succeeded | failed | cancelled)
			printf '%s' "$state"
			return 0
			;;
		esac
		if [ "$SECONDS" -ge "$deadline" ]; then
			printf 'still %s after %d s' "$state" $((pace_s * 3 + 300))
			return 0
		fi
		sleep 0.5
	done
}

# Compare the target with the source, table by table: the API's counts and
# validation, and the target's own count and checksum. Prints "ok" or what differs.
check_rows() {
	local run=$1 tables problems=() name n sum api_rows api_state api_valid
	tables=$(api GET "/api/v1/runs/$run/tables")
	sql dst -A -t -F ' ' >"$tmp/target.sums" 2>"$tmp/target.err" <<-'EOF' || true
		SELECT 'public.bulk', count(*), coalesce(sum(hashtext(t::text)), 0) FROM bulk t
		UNION ALL SELECT 'public.devices', count(*), coalesce(sum(hashtext(t::text)), 0) FROM devices t
		UNION ALL SELECT 'public.readings', count(*), coalesce(sum(hashtext(t::text)), 0) FROM readings t
		ORDER BY 1;
	EOF
	if [ -s "$tmp/target.err" ]; then
		problems+=("target: $(head -n 1 "$tmp/target.err")")
	elif ! cmp -s "$tmp/source.sums" "$tmp/target.sums"; then
		problems+=("target count/checksum differ: $(tr '\n' ';' <"$tmp/target.sums")")
	fi
	while read -r name n sum; do
		read -r api_state api_rows api_valid < <(jq -r --arg t "$name" \
			'.items[] | select(.source == $t) | "\(.state) \(.rows) \(.validation.state)"' <<<"$tables")
		if [ "${api_state:-}" != loaded ] || [ "${api_rows:-}" != "$n" ] || [ "${api_valid:-}" != passed ]; then
			problems+=("$name: API says ${api_state:-absent}, ${api_rows:-?} rows, validation ${api_valid:-?}; source has $n")
		fi
	done <"$tmp/source.sums"
	if [ ${#problems[@]} -eq 0 ]; then
		echo ok
	else
		local IFS=';'
		echo "${problems[*]}"
	fi
}

# ferryd's log lines of one scenario that are not "info": warnings, errors,
# and anything libmicrohttpd printed itself; as "count<TAB>line" sorted by count.
odd_log_lines() {
	{ grep -v -E '^[0-9T:.-]+Z (info|debug) ' "$1" || true; } |
		sed -E 's/^[0-9T:.-]+Z //; s/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uuid>/g' |
		sort | uniq -c | sort -rn | awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%d\t%s\n", n, $0 }'
}

run_scenario() {
	local i=$1 conns=$2 limit=$3 run state_end rows_begin rows_end rc line kv
	local name="$conns conns, --max-connections $limit"
	R[$i,name]=$name
	R[$i,conns]=$conns
	R[$i,limit]=$limit
	echo
	say "scenario $i: $conns connections, ferryd --max-connections $limit, ${duration} s"

	sql postgres -c 'DROP DATABASE IF EXISTS dst' -c 'CREATE DATABASE dst'
	start_ferryd "$limit" "$i"
	ensure_job
	local threads_idle
	threads_idle=$(awk '/^Threads:/ { print $2 }' "/proc/$ferry_pid/status")

	run=$(api POST "/api/v1/jobs/$job/runs" | jq -r .id)
	R[$i,run]=$run
	printf '    run %s triggered; waiting for public.readings to load\n' "$run"
	wait_loading "$run"
	rows_begin=$(run_state "$run" | cut -f2)

	local sessions_before
	sessions_before=$(meta_sql "SELECT sessions FROM pg_stat_database WHERE datname = 'ferry'")
	start_sampler "$tmp/sample-$i"
	start_probe "$tmp/probe-$i" "$run"

	printf '    wrk -t%s -c%s -d%ss --timeout %ss --latency -s read_paths.lua\n' \
		"$wrk_threads" "$conns" "$duration" "$wrk_timeout_s"
	rc=0
	timeout -k 10 $((duration + 60)) \
		wrk -t "$wrk_threads" -c "$conns" -d "${duration}s" --timeout "${wrk_timeout_s}s" --latency \
		-s "$lua" "$base/" -- "$job_id" "$job" "$run" >"$tmp/wrk-$i.out" 2>&1 || rc=$?
	local load_end=$EPOCHREALTIME
	stop_helper "$sampler_pid"
	sampler_pid=""

	if kill -0 "$ferry_pid" 2>/dev/null; then
		R[$i,alive]=yes
		read -r state_end rows_end < <(run_state "$run")
		stop_probe "$tmp/probe-$i"
	else
		R[$i,alive]=no
		state_end="(ferryd gone)" rows_end=0
		stop_probe "$tmp/probe-$i"
	fi
	R[$i,state_during]=$state_end
	R[$i,rows_during]=$((rows_end - rows_begin))
	[ "$rc" -eq 0 ] || printf '    wrk exited with status %s\n' "$rc"
	R[$i,wrk_rc]=$rc
	R[$i,wrk_out]=$(grep -v '^LOADTEST' "$tmp/wrk-$i.out" || true)
	line=$(sed -n 's/^LOADTEST //p' "$tmp/wrk-$i.out" | tail -n 1)
	[ -n "$line" ] || line="requests=0 rps=0 p50_ms=- p90_ms=- p99_ms=- max_ms=- connect=- read=- write=- timeout=- non2xx=- s503=- bad_body=- statuses=none"
	for kv in $line; do
		R[$i,${kv%%=*}]=${kv#*=}
	done
	R[$i,samples]=$(sed -n 's/^LOADTEST-SAMPLE //p' "$tmp/wrk-$i.out" | sort -rn | head -n 10)

	# threads left a few seconds after wrk closed its connections
	if [ "${R[$i,alive]}" = yes ]; then
		sleep 3
		R[$i,threads_after]=$(awk '/^Threads:/ { print $2 }' "/proc/$ferry_pid/status")
	else
		R[$i,threads_after]=-
	fi
	R[$i,threads_idle]=$threads_idle
	local peak_threads peak_rss peak_meta queue
	read -r peak_threads peak_rss peak_meta queue < <(awk '
		{ if ($1 > t) t = $1; if ($2 > r) r = $2; if ($3 > m) m = $3
		  if ($4 >= 0) { n++; q[n] = $4 } }
		END {
			# the accept queue: its largest and its median length over the samples
			if (n == 0) { qs = "-" } else {
				for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (q[j] < q[i]) { x = q[i]; q[i] = q[j]; q[j] = x }
				qs = q[n] "/" q[int((n + 1) / 2)]
			}
			printf "%d %d %d %s\n", t, r, m, qs
		}' "$tmp/sample-$i")
	R[$i,threads_peak]=$peak_threads
	R[$i,rss_peak_kb]=$peak_rss
	R[$i,meta_peak]=$peak_meta
	R[$i,queue_peak]=${queue%/*}
	R[$i,queue_median]=${queue#*/}
	local sessions_after
	sessions_after=$(meta_sql "SELECT sessions FROM pg_stat_database WHERE datname = 'ferry'")
	if [[ $sessions_before =~ ^[0-9]+$ ]] && [[ $sessions_after =~ ^[0-9]+$ ]]; then
		R[$i,meta_sessions]=$((sessions_after - sessions_before))
	else
		R[$i,meta_sessions]=-
	fi
	# a request that waited more than a second and was answered only once wrk
	# had closed its connections is told apart
	R[$i,probe]=$(awk -v end="$load_end" '
		{ n++
		  if ($1 == "000") none++
		  else if ($3 > end + 0.1 && $2 > 1) late++
		  else if ($1 ~ /^2/) { ok++; if ($2 > m) m = $2 }
		  else bad[$1]++ }
		END {
			s = sprintf("%d of %d answered 2xx during the load", ok, n)
			if (ok) s = s sprintf(" (slowest %.2f s)", m)
			if (none) s = s sprintf("; no answer within 15 s: %d", none)
			if (late) s = s sprintf("; answered only once wrk had stopped: %d", late)
			for (c in bad) s = s sprintf("; status %s: %d", c, bad[c])
			print s
		}' "$tmp/probe-$i")

	printf '    %s req/s, p50 %s ms, p99 %s ms, max %s ms; non-2xx %s (503: %s); socket errors connect %s, read %s, write %s, timeout %s\n' \
		"${R[$i,rps]}" "${R[$i,p50_ms]}" "${R[$i,p99_ms]}" "${R[$i,max_ms]}" "${R[$i,non2xx]}" \
		"${R[$i,s503]}" "${R[$i,connect]}" "${R[$i,read]}" "${R[$i,write]}" "${R[$i,timeout]}"
	printf '    ferryd threads peak %s; accept queue peak %s, median %s; fresh client: %s\n' \
		"${R[$i,threads_peak]}" "${R[$i,queue_peak]}" "${R[$i,queue_median]}" "${R[$i,probe]}"
	printf '    run at the end of the load: %s (%s rows copied during it); waiting for it to end\n' \
		"$state_end" "${R[$i,rows_during]}"

	if [ "${R[$i,alive]}" = yes ]; then
		R[$i,final]=$(wait_finished "$run")
		if [ "${R[$i,final]}" = succeeded ]; then
			R[$i,rows_check]=$(check_rows "$run")
		else
			R[$i,rows_check]="not checked"
			R[$i,run_error]=$(api GET "/api/v1/runs/$run" | jq -r '.error // ""')
		fi
		R[$i,elapsed_s]=$(api GET "/api/v1/runs/$run" | jq -r '((.elapsed_ms // 0) / 1000 * 10 | round) / 10')
	else
		R[$i,final]="unknown: ferryd exited"
		R[$i,rows_check]="not checked"
		R[$i,elapsed_s]=-
	fi
	printf '    run %s, rows %s\n' "${R[$i,final]}" "${R[$i,rows_check]}"
	stop_ferryd
	R[$i,log]=$(odd_log_lines "$ferry_log" | head -n 12)
	R[$i,log_count]=$(odd_log_lines "$ferry_log" | awk -F '\t' '{ n += $1 } END { print n + 0 }')
	verdict "$i"
	printf '    %s\n' "${R[$i,verdict]}"
}

# PASS or FAIL with the reasons, from the figures of scenario $1.
verdict() {
	local i=$1 why=() sock_errors=0 k
	for k in connect read write timeout; do
		if [[ ${R[$i,$k]} =~ ^[0-9]+$ ]]; then
			sock_errors=$((sock_errors + R[$i,$k]))
		else
			why+=("no wrk figures")
			break
		fi
	done
	R[$i,sock_errors]=$sock_errors
	[ "${R[$i,alive]}" = yes ] || why+=("ferryd exited during the load")
	[ "${R[$i,wrk_rc]}" = 0 ] || why+=("wrk exited with status ${R[$i,wrk_rc]}")
	[ "${R[$i,requests]:-0}" -gt 0 ] 2>/dev/null || why+=("no request completed")
	case ${R[$i,state_during]} in
	running | cancelling) ;;
	queued) ;;
	*) why+=("the run was no longer active when the load ended (${R[$i,state_during]}): raise LOADTEST_PACE_S") ;;
	esac
	[ "${R[$i,final]}" = succeeded ] || why+=("run ${R[$i,final]}${R[$i,run_error]:+: ${R[$i,run_error]}}")
	[ "${R[$i,rows_check]}" = ok ] || why+=("rows: ${R[$i,rows_check]}")
	[ "${R[$i,non2xx]}" = 0 ] || why+=("${R[$i,non2xx]} non-2xx answers (${R[$i,statuses]})")
	[ "${R[$i,bad_body]}" = 0 ] || why+=("${R[$i,bad_body]} 2xx answers without a JSON object")
	local waiting=${R[$i,queue_median]}
	[[ $waiting =~ ^[0-9]+$ ]] || waiting=0
	if [ "${R[$i,conns]}" -le "${R[$i,limit]}" ]; then
		[ "$sock_errors" -eq 0 ] || why+=("$sock_errors socket errors")
		[ "$waiting" -eq 0 ] || why+=("a median of $waiting connections waited unaccepted")
		R[$i,kind]=main
	else
		R[$i,kind]="over the limit"
	fi
	if [ ${#why[@]} -eq 0 ]; then
		R[$i,verdict]=PASS
		if [ "${R[$i,kind]}" != main ]; then
			local over=()
			[ "$sock_errors" -eq 0 ] ||
				over+=("$sock_errors socket errors: connections over --max-connections ${R[$i,limit]} refused")
			[ "$waiting" -eq 0 ] ||
				over+=("$waiting connections (median) over --max-connections ${R[$i,limit]} waited in the accept queue, unserved; wrk counts no error for them")
			if [ ${#over[@]} -gt 0 ]; then
				local IFS=';'
				R[$i,verdict]="PASS, as a run and for the answers given; ${over[*]}"
			fi
		fi
	else
		local IFS=';'
		R[$i,verdict]="FAIL: ${why[*]}"
	fi
}

# ---------------------------------------------------------------- report

results_file() {
	if [ -n "$results" ]; then
		mkdir -p "$(dirname "$results")"
		printf '%s' "$results"
		return
	fi
	local day f n=1
	day=$(date -u +%Y-%m-%d)
	mkdir -p "$here/results"
	f=$here/results/$day.md
	while [ -e "$f" ]; do
		n=$((n + 1))
		f=$here/results/$day-$n.md
	done
	printf '%s' "$f"
}

summary_table() {
	local i
	printf '| scenario | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | of which 503 | socket errors (connect/read/write/timeout) | unaccepted connections (median) | run when the load ended | run at the end | rows |\n'
	printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- | --- |\n'
	for ((i = 1; i <= n_scen; i++)); do
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s (%s/%s/%s/%s) | %s | %s | %s | %s |\n' \
			"${R[$i,name]}" "${R[$i,rps]}" "${R[$i,p50_ms]}" "${R[$i,p90_ms]}" "${R[$i,p99_ms]}" \
			"${R[$i,max_ms]}" "${R[$i,non2xx]}" "${R[$i,s503]}" "${R[$i,sock_errors]}" \
			"${R[$i,connect]}" "${R[$i,read]}" "${R[$i,write]}" "${R[$i,timeout]}" "${R[$i,queue_median]}" \
			"${R[$i,state_during]}" "${R[$i,final]}" \
			"$([ "${R[$i,rows_check]}" = ok ] && echo "correct" || echo "${R[$i,rows_check]}")"
	done
}

write_results() {
	local file=$1 i cpu mem_gib pg_version wrk_version commit
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
	pg_version=$("$pg_bin/postgres" --version | sed 's/^[^)]*) *\([0-9.]*\).*/\1/')
	wrk_version=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print $2 }')
	commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		commit="$commit with uncommitted changes"
	fi
	{
		printf '# ferryd load test, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
		printf -- '- machine: %s cores (%s), %s GiB memory, %s\n' "$(nproc)" "${cpu:-unknown CPU}" \
			"$mem_gib" "$(uname -sr)"
		printf -- '- load average (1, 5, 15 min): %s before, %s after\n' "$load_before" "$load_after"
		printf -- '- wrk, ferryd, its embedded metadata PostgreSQL and the source/target PostgreSQL all ran on this machine\n'
		[ -z "$note" ] || printf -- '- note: %s\n' "$note"
		printf -- '- ferryd %s (binary built %s, sha256 %s…; the repository was at commit %s), PostgreSQL %s, wrk %s\n' \
			"$("$ferryd" --version | awk '{ print $NF }')" "$ferryd_built" "$ferryd_sum" "$commit" \
			"$pg_version" "$wrk_version"
		printf -- '- each scenario: wrk -t%s -c<connections> -d%ss --timeout %ss, paths rotated by loadtest/read_paths.lua\n' \
			"$wrk_threads" "$duration" "$wrk_timeout_s"
		printf -- '- the run under load: job %s, tables public.readings (%s rows, where `id %% %s <> 0 OR pg_sleep(%s)::text = '"''"'`), public.bulk (%s rows), public.devices (%s rows); load.mode replace into an empty database, validate count; ferryd otherwise at its defaults (--workers %s, --request-timeout 30, embedded metadata database)\n' \
			"$job" "$rows" "$pace_every" "$sleep_s" "$bulk_rows" "$device_rows" "$(( $(nproc) < 2 ? 2 : $(nproc) ))"
		printf '\n## Results\n\n'
		summary_table
		printf '\n"run when the load ended" is the run'"'"'s state as wrk stopped (it must still be running); "rows" compares every target table with the source (count and a checksum of every row) and the rows and count validation the API reports.\n'
		for ((i = 1; i <= n_scen; i++)); do
			printf '\n## %s\n\n' "${R[$i,name]}"
			printf -- '- verdict: %s\n' "${R[$i,verdict]}"
			printf -- '- run %s: %s when the load ended, %s rows copied during the load; ended %s after %s s\n' \
				"${R[$i,run]}" "${R[$i,state_during]}" "${R[$i,rows_during]}" "${R[$i,final]}" "${R[$i,elapsed_s]}"
			printf -- '- requests: %s in %s s; status codes %s\n' "${R[$i,requests]}" "${R[$i,duration_s]:--}" "${R[$i,statuses]}"
			printf -- '- ferryd threads: %s idle, %s at the peak, %s three seconds after the load; peak RSS %s MiB\n' \
				"${R[$i,threads_idle]}" "${R[$i,threads_peak]}" "${R[$i,threads_after]}" \
				"$(awk -v k="${R[$i,rss_peak_kb]}" 'BEGIN { printf "%.1f", k / 1024 }')"
			printf -- '- metadata database: at most %s client connections open at once; about %s sessions opened during the load\n' \
				"${R[$i,meta_peak]}" "${R[$i,meta_sessions]}"
			printf -- '- connections waiting in the accept queue of ferryd'"'"'s socket (not yet accepted): at most %s, median %s over the samples\n' \
				"${R[$i,queue_peak]}" "${R[$i,queue_median]}"
			printf -- '- a new client asking for the run once a second during the load: %s\n' "${R[$i,probe]}"
			if [ -n "${R[$i,samples]}" ]; then
				printf -- '- non-2xx answers (count, status, start of the body):\n\n```\n%s\n```\n' "${R[$i,samples]}"
			fi
			if [ "${R[$i,log_count]}" -gt 0 ]; then
				printf -- '- ferryd log lines other than info: %s, the most frequent:\n\n```\n%s\n```\n' \
					"${R[$i,log_count]}" "${R[$i,log]}"
			else
				printf -- '- ferryd log: nothing but info lines\n'
			fi
			printf '\n<details><summary>wrk output</summary>\n\n```\n%s\n```\n\n</details>\n' "${R[$i,wrk_out]}"
		done
	} >"$file"
}

# ---------------------------------------------------------------- main

main() {
	check_settings
	check_tools
	local v
	for v in $(compgen -e); do
		if [[ $v == PG* ]]; then unset "$v"; fi
	done
	load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-loadtest.XXXXXX")
	# measure one binary throughout, whatever rebuilds build/ferryd meanwhile
	ferryd_built=$(date -u -r "$ferryd" '+%Y-%m-%d %H:%M:%S UTC')
	cp "$ferryd" "$tmp/ferryd"
	ferryd=$tmp/ferryd
	ferryd_sum=$(sha256sum "$ferryd" | cut -c1-12)
	start_cluster
	load_source

	local s i=0
	for s in $scenarios; do
		i=$((i + 1))
		run_scenario "$i" "${s%%:*}" "${s##*:}"
	done
	n_scen=$i
	load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)

	local file
	file=$(results_file)
	write_results "$file"
	echo
	summary_table
	echo
	for ((i = 1; i <= n_scen; i++)); do
		printf '%s: %s\n' "${R[$i,name]}" "${R[$i,verdict]}"
	done
	say "results written to ${file#"$repo"/}"
	for ((i = 1; i <= n_scen; i++)); do
		[[ ${R[$i,verdict]} == PASS* ]] || return 1
	done
}

n_scen=0
ferryd_built=""
ferryd_sum=""
load_before=""
load_after=""
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
main "$@"

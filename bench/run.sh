#!/usr/bin/env bash
# bench/run.sh: time a whole PostgreSQL -> PostgreSQL copy (schema, data,
# primary keys, indexes) with ferry and with the usual tools, on the same
# data and the same two throwaway clusters, and check every copy.
#
# What happens (everything under one temporary directory, removed on exit,
# but for the tablespace of step 5, in a directory of its own, removed too):
#   1. two PostgreSQL clusters, "source" and "target", listening on 127.0.0.1
#      only, with identical settings (fsync on);
#   2. the source database "src" gets the data set: the telemetry table
#      "device", the pgbench tables and a wide table "wide" (text, jsonb,
#      numeric, uuid, bytea); per-table row counts and checksums are taken;
#   3. each round runs every method once, in a rotated order; before each
#      method the target database "tgt" is dropped and created empty, and
#      after it the target is compared with the source (row count and
#      sum(hashtext(row::text)) per table, plus columns, indexes and
#      constraints); a mismatch marks the method invalid;
#      while a ferry run goes on, GET /api/v1/runs/{id}/tables is asked
#      about every 100 ms, one request at a time, and each answer timed;
#   4. optionally, ferryd's peak RSS copying the device table alone at one
#      tenth of its size and at full size;
#   5. optionally, many small tables: a ferry job over thousands of tiny
#      tables (database "many"), timed against the same per-table work done
#      by psql, to tell ferry's own cost per table;
#   6. a table of medians is printed and written to
#      bench/results/<date>-<host>.md, followed by the targets ferry is held to.
#
# Environment:
#   BENCH_SCALE=full|small|F  data set size: full (default: 10M device rows,
#                             pgbench scale 50, 700k wide rows, about 2.4 GB),
#                             small (200k, 2, 14k) or a factor of full
#   BENCH_SHAPE=S             the data set's shape (default standard): standard
#                             (the sizes above), medium (5M device rows, pgbench
#                             scale 50, 1M wide rows), tables (120 tables of 1
#                             to 50 MB, a primary key and an index each, about
#                             3.5 GB) or toast (6,000 rows of 60 kB text and
#                             256 kB bytea, 600 of 1 MB bytea); each scaled by
#                             BENCH_SCALE. Only standard runs the many small
#                             tables measure and the RSS check
#   BENCH_TABLES_N=N          tables of the tables shape
#   BENCH_REPEAT=N            rounds (default 5)
#   BENCH_RSS_CHECK=0|1       ferryd RSS at 1/10 vs full device table (default 1)
#   BENCH_METHODS=a,b         only these methods (default all): ferry (ferryd as
#                             started with no flags, the judged row),
#                             ferry_tuned (--workers 2 x jobs), pgcopydb,
#                             dump_dir, dump_pipe, copy_pipe, limit_out, limit_in,
#                             and many (the many small tables measure); with
#                             many alone the main data set is not made
#   BENCH_MANY_TABLES=N       tables of the many small tables measure (default
#                             5000; 0 skips it)
#   BENCH_MANY_REPEAT=N       its rounds (default 3)
#   BENCH_MANY_ON_DISK=1      keep its target tables on disk rather than in a
#                             tablespace on /dev/shm (see many_tablespace)
#   BENCH_NOTE=TEXT           a remark written into the results file
#   BENCH_LOGS=DIR            keep every log (each method's, ferryd's, the
#                             clusters') in DIR when the script ends
#   BENCH_RESULTS=FILE        where to write the results (default
#                             bench/results/<date>-<host>[-<shape>][-<scale>].md)
#   BENCH_DEVICE_ROWS, BENCH_PGBENCH_SCALE, BENCH_WIDE_ROWS  override one size
#   FERRYD=PATH               the ferryd binary (default build/ferryd)
#   FERRYD_BEFORE=PATH        another ferryd binary (the build of an earlier
#                             commit), timed as the method ferry_before in the
#                             same rounds with its own metadata database, so
#                             that a change is judged against what it changed
#   TMPDIR                    where the temporary directory goes (needs about
#                             six times the data set size free)
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/cpu.sh
. "$repo/bench/cpu.sh"
ferryd=${FERRYD:-$repo/build/ferryd}
jobs_n=2 # table jobs and index jobs for every method
# the niceness (relative) of the client that times ferryd's answers: raised
# when this script may raise it, otherwise 0, that of the servers
latency_nice=0
if [ "$(nice -n -10 nice 2>/dev/null)" = "$(($(nice) - 10))" ]; then latency_nice=-10; fi

tmp=""
pg_bin=""
many_ts=""     # the clause that puts database manytgt in a memory tablespace, or empty
many_ts_dir="" # that tablespace's directory, removed at exit
many_where=""  # where the many small tables' target files live, in words
src_port=""
tgt_port=""
started_clusters=()
ferry_pid=""
ferry_base=""
method_pid=""
sampler_pid=""
page_kb=$(($(getconf PAGESIZE) / 1024))

ferryd_before=${FERRYD_BEFORE:-}
all_methods=(ferry ferry_tuned pgcopydb dump_dir dump_pipe copy_pipe limit_out limit_in)
declare -A label=(
	[ferry]="ferry (REST API, ferryd's defaults)"
	[ferry_tuned]="ferry, --workers 2 x jobs (tuned, not judged)"
	[ferry_before]="ferry, the FERRYD_BEFORE build, its defaults"
	[pgcopydb]="pgcopydb clone, 2 table + 2 index jobs"
	[dump_dir]="pg_dump -Fd -j2 + pg_restore -j2"
	[dump_pipe]="pg_dump -Fc piped to pg_restore"
	[copy_pipe]="COPY binary pipe, 2 at a time, then indexes"
	[limit_out]="limit: source COPY TO /dev/null (data only)"
	[limit_in]="limit: target COPY FROM file (data only)"
)

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}
loud() {
	local bar='!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
	{
		printf '\n%s\n' "$bar"
		printf '%s\n' "$@" | sed 's/^/!!! /'
		printf '%s\n\n' "$bar"
	} >&2
}

# ---------------------------------------------------------------- settings

scale=${BENCH_SCALE:-full}
shape=${BENCH_SHAPE:-standard}
case $shape in
standard | medium | tables | toast) ;;
*) die "BENCH_SHAPE must be standard, medium, tables or toast (got \"$shape\")" ;;
esac
case $scale in
full | 1)
	scale=full device_rows=10000000 pgbench_scale=50 wide_rows=700000 factor=1
	;;
small)
	device_rows=200000 pgbench_scale=2 wide_rows=14000 factor=0.02
	;;
*)
	[[ $scale =~ ^(0|[1-9][0-9]*)?(\.[0-9]+)?$ && $scale != . && $scale != "" ]] ||
		die "BENCH_SCALE must be full, small or a positive factor (got \"$scale\")"
	read -r device_rows pgbench_scale wide_rows < <(awk -v f="$scale" 'BEGIN {
		s = int(50 * f + 0.5); if (s < 1) s = 1
		printf "%d %d %d\n", 10000000 * f, s, 700000 * f }')
	factor=$scale
	;;
esac
# the other shapes, at the same scale factor
case $shape in
medium)
	read -r device_rows pgbench_scale wide_rows < <(awk -v f="$factor" -v p="$pgbench_scale" 'BEGIN {
		printf "%d %d %d\n", 5000000 * f, p, 1000000 * f }')
	;;
tables)
	# tables of 1 to 50 MB, each with a primary key and a secondary index
	tables_n=$(awk -v f="$factor" 'BEGIN { n = int(120 * f + 0.5); print (n < 4 ? 4 : n) }')
	tables_n=${BENCH_TABLES_N:-$tables_n}
	;;
toast)
	# few rows of large values: text stored compressed out of line, bytea that does not compress
	toast_docs=$(awk -v f="$factor" 'BEGIN { n = int(6000 * f + 0.5); print (n < 20 ? 20 : n) }')
	toast_attachments=$(awk -v f="$factor" 'BEGIN { n = int(600 * f + 0.5); print (n < 4 ? 4 : n) }')
	;;
esac
device_rows=${BENCH_DEVICE_ROWS:-$device_rows}
pgbench_scale=${BENCH_PGBENCH_SCALE:-$pgbench_scale}
wide_rows=${BENCH_WIDE_ROWS:-$wide_rows}
repeat=${BENCH_REPEAT:-5}
rss_check=${BENCH_RSS_CHECK:-1}
if [ "$shape" != standard ]; then rss_check=0; fi # it copies the standard shape's device table
many_tables=${BENCH_MANY_TABLES:-5000}
many_repeat=${BENCH_MANY_REPEAT:-3}
many_on_disk=${BENCH_MANY_ON_DISK:-0}
many_rows=5 # rows in each of the many small tables
for v in device_rows pgbench_scale wide_rows repeat many_repeat; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive whole number (got \"${!v}\")"
done
[ "$device_rows" -ge 30 ] || die "the device table needs at least 30 rows"
[[ $rss_check =~ ^[01]$ ]] || die "BENCH_RSS_CHECK must be 0 or 1"
[[ $many_on_disk =~ ^[01]$ ]] || die "BENCH_MANY_ON_DISK must be 0 or 1"
[[ $many_tables =~ ^(0|[1-9][0-9]{0,5})$ ]] || die "BENCH_MANY_TABLES must be a whole number (got \"$many_tables\")"

methods=()
run_many=0
if [ -z "${BENCH_METHODS:-}" ] || [ "${BENCH_METHODS}" = all ]; then
	methods=("${all_methods[@]}")
	run_many=1
else
	IFS=', ' read -r -a picked <<<"$BENCH_METHODS"
	for m in "${picked[@]}"; do
		if [ "$m" = many ]; then
			run_many=1
			continue
		fi
		[ -n "${label[$m]+x}" ] || die "unknown method \"$m\" in BENCH_METHODS (known: ${all_methods[*]} many)"
		methods+=("$m")
	done
fi
if [ -n "$ferryd_before" ]; then
	[ -x "$ferryd_before" ] || die "FERRYD_BEFORE is not an executable file: $ferryd_before"
	# timed right after ferry in every round, when ferry is timed at all
	with_before=()
	for m in "${methods[@]}"; do
		with_before+=("$m")
		if [ "$m" = ferry ]; then with_before+=(ferry_before); fi
	done
	methods=("${with_before[@]}")
fi
if [ "$many_tables" -eq 0 ] || [ "$shape" != standard ]; then run_many=0; fi
[ ${#methods[@]} -gt 0 ] || [ "$run_many" = 1 ] ||
	die "nothing to measure (BENCH_METHODS=many but BENCH_MANY_TABLES=0)"
has_method() {
	local m
	for m in "${methods[@]}"; do
		if [ "$m" = "$1" ]; then return 0; fi
	done
	return 1
}
has_method ferry || rss_check=0

# ---------------------------------------------------------------- helpers

# Run a PostgreSQL server program; as root, as the user "postgres".
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$tmp" && runuser -u postgres -- "$@")
	else
		(cd "$tmp" && "$@")
	fi
}

uri() { printf 'postgresql://postgres@127.0.0.1:%s/%s' "$1" "$2"; }

# sql PORT DB [psql args...]
sql() {
	local port=$1 db=$2
	shift 2
	"$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# 1234567 -> 1,234,567
commas() {
	local n=$1 out=""
	while [ ${#n} -gt 3 ]; do
		out=",${n: -3}$out"
		n=${n:0:${#n}-3}
	done
	printf '%s%s' "$n" "$out"
}

# seconds between two $EPOCHREALTIME values
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
	local p=$1
	while port_taken "$p" || [ "$p" = "${src_port:-}" ]; do p=$((p + 1)); done
	printf '%s' "$p"
}

# run_each JOBS FUNCTION ITEM...: FUNCTION ITEM for every item, JOBS at a
# time; fails when any of them failed.
run_each() {
	local n=$1 fn=$2 running=0 rc=0 item
	shift 2
	for item in "$@"; do
		if [ "$running" -ge "$n" ]; then
			wait -n || rc=1
			running=$((running - 1))
		fi
		"$fn" "$item" &
		running=$((running + 1))
	done
	while [ "$running" -gt 0 ]; do
		wait -n || rc=1
		running=$((running - 1))
	done
	return "$rc"
}

# tree=(PID and all its descendants)
collect_tree() {
	local -a queue=("$1") kids
	local p f
	tree=()
	while [ ${#queue[@]} -gt 0 ]; do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		tree+=("$p")
		for f in /proc/"$p"/task/*/children; do
			[ -r "$f" ] || continue
			kids=()
			{ read -r -a kids <"$f" || :; } 2>/dev/null
			queue+=("${kids[@]}")
		done
	done
}

# sampler WATCH ROOT REGEX OUT: while WATCH lives, every ~100 ms add up the
# resident memory of ROOT and its descendants whose command name matches
# REGEX; OUT holds the highest sum seen, in KiB.
sampler() {
	local watch=$1 root=$2 re=$3 out=$4 peak=0 total p comm rss
	echo 0 >"$out"
	while kill -0 "$watch" 2>/dev/null; do
		collect_tree "$root"
		total=0
		for p in "${tree[@]}"; do
			comm="" rss=0
			{ read -r comm <"/proc/$p/comm" && read -r _ rss _ <"/proc/$p/statm"; } 2>/dev/null || continue
			[[ $comm =~ $re ]] || continue
			total=$((total + rss))
		done
		if [ "$total" -gt "$peak" ]; then
			peak=$total
			echo $((peak * page_kb)) >"$out"
		fi
		sleep 0.1
	done
}

# peak resident set of one process so far, KiB
vm_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Stop a process of ours and everything under it, by PID.
stop_tree() {
	local pid=$1 p
	[ -n "$pid" ] || return 0
	collect_tree "$pid"
	for p in "${tree[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- clusters

find_pg_bin() {
	local dir
	dir=$(pg_config --bindir 2>/dev/null || true)
	if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
		dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	fi
	if [ -z "$dir" ] || [ ! -x "$dir/initdb" ] || [ ! -x "$dir/pgbench" ]; then
		die "PostgreSQL server binaries (initdb, pgbench) not found; run 'make bench' as root or install postgresql"
	fi
	pg_bin=$dir
}

check_tools() {
	local missing=() t
	for t in curl jq pgcopydb awk node; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}; run 'make bench' as root, or install curl jq pgcopydb nodejs"
	[ -x "$ferryd" ] || die "$ferryd not found; run 'make' first"
	if [ "$(id -u)" -eq 0 ]; then
		command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is needed when running as root"
		id postgres >/dev/null 2>&1 || die "running as root needs the user \"postgres\""
	fi
}

cluster_settings() {
	cat <<-EOF

		# bench cluster: loopback TCP only; the same settings on source and target
		listen_addresses = '127.0.0.1'
		port = $1
		unix_socket_directories = '$tmp/sock'
		max_connections = 100
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		shared_buffers = '256MB'
		maintenance_work_mem = '256MB'
		work_mem = '16MB'
		max_wal_size = '4GB'
		checkpoint_timeout = '15min'
		logging_collector = off
	EOF
}

start_cluster() {
	local name=$1 port=$2
	as_pg "$pg_bin/initdb" -D "$tmp/$name" -A trust -N -U postgres -E UTF8 --locale=C \
		>"$tmp/logs/initdb-$name.log" 2>&1 || {
		tail -n 20 "$tmp/logs/initdb-$name.log" >&2
		die "initdb of the $name cluster failed"
	}
	cluster_settings "$port" >>"$tmp/$name/postgresql.conf"
	started_clusters+=("$name")
	as_pg "$pg_bin/pg_ctl" -D "$tmp/$name" -l "$tmp/logs/postgres-$name.log" -w -t 120 start >/dev/null || {
		tail -n 20 "$tmp/logs/postgres-$name.log" >&2
		die "the $name cluster did not start"
	}
}

stop_clusters() {
	local name
	for name in "${started_clusters[@]}"; do
		as_pg "$pg_bin/pg_ctl" -D "$tmp/$name" -m fast -w -t 120 stop >/dev/null 2>&1 ||
			as_pg "$pg_bin/pg_ctl" -D "$tmp/$name" -m immediate -w stop >/dev/null 2>&1 || true
	done
	started_clusters=()
}

cleanup() {
	local rc=$?
	trap '' INT TERM
	if [ -n "$sampler_pid" ]; then kill -TERM "$sampler_pid" 2>/dev/null || true; fi
	if [ -n "$method_pid" ]; then
		echo "bench: stopping the method still running (pid $method_pid)" >&2
		stop_tree "$method_pid"
	fi
	stop_ferryd
	if [ ${#started_clusters[@]} -gt 0 ]; then
		say "stopping the clusters"
		stop_clusters
	fi
	if [ -n "${BENCH_LOGS:-}" ] && [ -n "$tmp" ] && [ -d "$tmp/logs" ]; then
		mkdir -p "$BENCH_LOGS" && cp -r "$tmp/logs/." "$BENCH_LOGS/" &&
			say "logs kept in $BENCH_LOGS"
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		say "removing $tmp"
		rm -rf "$tmp"
	fi
	if [ -n "$many_ts_dir" ] && [ -d "$many_ts_dir" ]; then rm -rf "$many_ts_dir"; fi
	exit "$rc"
}

# ---------------------------------------------------------------- data set

gen_device_sql() {
	# :lo, :hi: the range of reading numbers per device; three devices, one
	# reading every five seconds each, shaped like the public environmental
	# sensor telemetry data set
	cat <<-'EOF'
		INSERT INTO device (ts, device, co, humidity, light, lpg, motion, smoke, temp)
		SELECT timestamptz '2020-07-12 00:01:34+00' + make_interval(secs => g.n * 5 + d.off + random() * 0.9),
		       d.dev,
		       d.co * (1 + 0.12 * sin(g.n / 700.0) + 0.06 * random()),
		       round((d.hum + 3 * sin(g.n * 2 * pi() / 17280) + random())::numeric, 1)::float8,
		       sin(g.n * 2 * pi() / 17280) + 0.3 * random() > d.light,
		       d.lpg * (1 + 0.08 * sin(g.n / 700.0) + 0.05 * random()),
		       random() < d.motion,
		       d.smoke * (1 + 0.1 * sin(g.n / 700.0) + 0.05 * random()),
		       round((d.temp + 2 * sin(g.n * 2 * pi() / 17280) + random())::numeric, 1)::float8
		  FROM (SELECT dev, off::float8, co::float8, hum::float8, light::float8, lpg::float8,
		               motion::float8, smoke::float8, temp::float8
		          FROM (VALUES ('00:0f:00:70:91:0a', 0.0, 0.0029, 75.5, 1.5, 0.0055, 0.0004, 0.0146, 19.4),
		                       ('1c:bf:ce:15:ec:4d', 1.7, 0.0045, 61.0, -0.6, 0.0070, 0.0030, 0.0188, 26.0),
		                       ('b8:27:eb:bf:9d:51', 3.1, 0.0050, 50.8, 0.7, 0.0076, 0.0012, 0.0204, 22.3))
		               AS v(dev, off, co, hum, light, lpg, motion, smoke, temp)) AS d,
		       generate_series(:lo, :hi - 1) AS g(n);
	EOF
}

create_device_sql() {
	cat <<-'EOF'
		CREATE TABLE device (
		    ts        timestamptz NOT NULL,
		    device    text NOT NULL,
		    co        double precision,
		    humidity  double precision,
		    light     boolean,
		    lpg       double precision,
		    motion    boolean,
		    smoke     double precision,
		    temp      double precision
		);
	EOF
}

index_device_sql() {
	cat <<-'EOF'
		ALTER TABLE device ADD PRIMARY KEY (device, ts);
		CREATE INDEX device_ts_idx ON device (ts);
	EOF
}

# one part of the source data set; run two at a time
gen_part() {
	local per=$(((device_rows + 2) / 3)) half
	half=$((per / 2))
	case $1 in
	device_a) gen_device_sql | sql "$src_port" src -v lo=0 -v hi="$half" ;;
	device_b) gen_device_sql | sql "$src_port" src -v lo="$half" -v hi="$per" ;;
	pgbench)
		"$pg_bin/pgbench" -i -q -s "$pgbench_scale" --init-steps=dtgp \
			-h 127.0.0.1 -p "$src_port" -U postgres src >"$tmp/logs/pgbench-init.log" 2>&1
		;;
	wide)
		sql "$src_port" src -v n="$wide_rows" <<-'EOF'
			CREATE EXTENSION pgcrypto;
			INSERT INTO wide
			SELECT i,
			       'customer ' || i,
			       md5(random()::text) || ' ' || md5(random()::text) || ' ' ||
			           md5(random()::text) || ' ' || md5(random()::text),
			       jsonb_build_object(
			           'sku', 'SKU-' || (i % 100000),
			           'qty', (random() * 100)::int,
			           'price', round((random() * 1000)::numeric, 2),
			           'tags', jsonb_build_array('red', 'blue', md5(i::text)),
			           'active', random() < 0.5,
			           'dims', jsonb_build_object('w', random(), 'h', random(), 'd', random()),
			           'comment', md5(random()::text) || md5(random()::text)),
			       round((random() * 1e6)::numeric, 2),
			       random()::numeric / 7,
			       gen_random_uuid(),
			       gen_random_bytes(256),
			       timestamptz '2023-01-01 00:00:00+00' + i * interval '3 seconds'
			  FROM generate_series(1, :n) AS g(i);
			DROP EXTENSION pgcrypto;
		EOF
		;;
	tables_a | tables_b)
		# table i holds about 1 + (37 i mod 50) MB; odd tables in one part, even in the other
		local first=1
		[ "$1" = tables_b ] && first=2
		sql "$src_port" src -v first="$first" -v n="$tables_n" <<-'EOF'
			SELECT set_config('bench.first', :'first', false), set_config('bench.n', :'n', false);
			DO $$
			DECLARE
			    i int;
			    nrows bigint;
			BEGIN
			    FOR i IN SELECT g FROM generate_series(current_setting('bench.first')::int,
			                                           current_setting('bench.n')::int, 2) g LOOP
			        nrows := (1 + (37 * i) % 50) * 8700;
			        EXECUTE format($f$
			            INSERT INTO %I
			            SELECT g, (random() * 100000)::int,
			                   timestamptz '2024-01-01 00:00:00+00' + g * interval '7 seconds',
			                   'order ' || g || ' ' || md5(random()::text) || md5(random()::text)
			              FROM generate_series(1, %s) g$f$, format('t%s', lpad(i::text, 3, '0')), nrows);
			        COMMIT;
			    END LOOP;
			END $$;
		EOF
		;;
	toast_a | toast_b)
		local lo=1 hi=$((toast_docs / 2))
		[ "$1" = toast_b ] && lo=$((hi + 1)) hi=$toast_docs
		sql "$src_port" src -v lo="$lo" -v hi="$hi" <<-'EOF'
			INSERT INTO doc
			SELECT i, 'document ' || i,
			       (SELECT string_agg(md5(i::text || ':' || k || random()::text), ' ') FROM generate_series(1, 1800) k),
			       (SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, 256 + 0 * i) k),
			       timestamptz '2022-01-01 00:00:00+00' + i * interval '1 hour'
			  FROM generate_series(:lo, :hi) i;
		EOF
		;;
	toast_c)
		sql "$src_port" src -v n="$toast_attachments" -v docs="$toast_docs" <<-'EOF'
			INSERT INTO attachment
			SELECT i, 1 + (i * 7) % :docs, 'file-' || i || '.bin',
			       (SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, 1024 + 0 * i) k)
			  FROM generate_series(1, :n) i;
		EOF
		;;
	rss_small)
		local small=$(((per + 9) / 10))
		{
			create_device_sql
			gen_device_sql
			index_device_sql
			echo 'VACUUM (FREEZE, ANALYZE);'
		} | sql "$src_port" rss_small -v lo=0 -v hi="$small"
		;;
	*) die "gen_part: unknown part $1" ;;
	esac
}

# the source data set of the shapes other than standard and medium (see BENCH_SHAPE)
make_other_source() {
	local i
	case $shape in
	tables)
		say "generating the source data set in database \"src\" (shape tables: $tables_n tables of 1 to 50 MB, a primary key and an index each)"
		sql "$src_port" postgres -c 'CREATE DATABASE src'
		for ((i = 1; i <= tables_n; i++)); do
			printf 'CREATE TABLE t%03d (id bigint NOT NULL, customer int NOT NULL, at timestamptz NOT NULL, note text);\n' "$i"
		done | sql "$src_port" src
		run_each "$jobs_n" gen_part tables_a tables_b || die "generating the data set failed (logs in $tmp/logs)"
		{
			for ((i = 1; i <= tables_n; i++)); do
				printf 'ALTER TABLE t%03d ADD PRIMARY KEY (id);\nCREATE INDEX t%03d_customer_idx ON t%03d (customer);\n' "$i" "$i" "$i"
			done
			echo 'VACUUM (FREEZE, ANALYZE);'
			echo 'CHECKPOINT;'
		} | sql "$src_port" src
		;;
	toast)
		say "generating the source data set in database \"src\" (shape toast: $(commas "$toast_docs") documents of 60 kB text and 256 kB bytea, $(commas "$toast_attachments") attachments of 1 MB)"
		sql "$src_port" postgres -c 'CREATE DATABASE src'
		sql "$src_port" src <<-'EOF'
			CREATE TABLE doc (id bigint NOT NULL, title text NOT NULL, body text, scan bytea, created_at timestamptz NOT NULL);
			CREATE TABLE attachment (id bigint NOT NULL, doc_id bigint NOT NULL, name text NOT NULL, data bytea);
			CREATE EXTENSION pgcrypto;
		EOF
		run_each "$jobs_n" gen_part toast_a toast_b toast_c || die "generating the data set failed (logs in $tmp/logs)"
		sql "$src_port" src <<-'EOF'
			DROP EXTENSION pgcrypto;
			ALTER TABLE doc ADD PRIMARY KEY (id);
			CREATE INDEX doc_created_at_idx ON doc (created_at);
			ALTER TABLE attachment ADD PRIMARY KEY (id);
			CREATE INDEX attachment_doc_id_idx ON attachment (doc_id);
			VACUUM (FREEZE, ANALYZE);
			CHECKPOINT;
		EOF
		;;
	esac
}

make_source() {
	local t0=$SECONDS parts=(device_a device_b pgbench wide)
	if [ "$shape" = tables ] || [ "$shape" = toast ]; then
		make_other_source
		describe_source "$t0"
		return
	fi
	say "generating the source data set in database \"src\" (shape $shape: device $(commas $((((device_rows + 2) / 3) * 3))) rows, pgbench scale $pgbench_scale, wide $(commas "$wide_rows") rows)"
	sql "$src_port" postgres -c 'CREATE DATABASE src'
	{
		create_device_sql
		cat <<-'EOF'
			CREATE TABLE wide (
			    id          bigint NOT NULL,
			    name        text NOT NULL,
			    note        text,
			    attrs       jsonb NOT NULL,
			    amount      numeric(14,2) NOT NULL,
			    ratio       numeric,
			    ref         uuid NOT NULL,
			    payload     bytea,
			    created_at  timestamptz NOT NULL
			);
		EOF
	} | sql "$src_port" src
	if [ "$rss_check" = 1 ]; then
		sql "$src_port" postgres -c 'CREATE DATABASE rss_small'
		parts+=(rss_small)
	fi
	run_each "$jobs_n" gen_part "${parts[@]}" || die "generating the data set failed (logs in $tmp/logs)"
	{
		index_device_sql
		cat <<-'EOF'
			ALTER TABLE wide ADD PRIMARY KEY (id);
			CREATE INDEX wide_created_at_idx ON wide (created_at);
			VACUUM (FREEZE, ANALYZE);
			CHECKPOINT;
		EOF
	} | sql "$src_port" src
	describe_source "$t0"
}

# describe_source START: the source's tables, biggest first, what they hold,
# their checksums and schema; the files the "COPY FROM file" limit reads
describe_source() {
	local t0=$1
	printf '    done in %d s\n' $((SECONDS - t0))

	# the tables, biggest first, and what they hold
	mapfile -t tables < <(sql "$src_port" src -At -c "
		SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'
		 ORDER BY pg_table_size(c.oid) DESC, 1")
	data_bytes=$(sql "$src_port" src -At -c "
		SELECT sum(pg_table_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'")
	index_bytes=$(sql "$src_port" src -At -c "
		SELECT sum(pg_indexes_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'")
	checksums src "$tmp/check.src"
	schema_sig "$src_port" src >"$tmp/schema.src"
	total_rows=$(awk -F '\t' '{ s += $2 } END { printf "%d", s }' "$tmp/check.src")
	dataset_lines=()
	local t n sz
	while IFS=$'\t' read -r t n sz; do
		dataset_lines+=("$(printf '| %s | %s | %s |' "$t" "$(commas "$n")" "$sz")")
	done < <(join -t $'\t' <(cut -f1,2 "$tmp/check.src" | sort) <(sql "$src_port" src -At -F $'\t' -c "
		SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
		       pg_size_pretty(pg_table_size(c.oid)) || ' + ' || pg_size_pretty(pg_indexes_size(c.oid)) || ' indexes'
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'" | sort))
	printf '%s\n' "${dataset_lines[@]}" | sed 's/^/    /'
	printf '    table data %s MB (pg_table_size), indexes %s MB, %s rows\n' \
		"$(awk -v b="$data_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')" \
		"$(awk -v b="$index_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')" "$(commas "$total_rows")"
	if [ "$scale" = full ] && [ "$shape" = standard ] && [ "$data_bytes" -lt 2000000000 ]; then
		loud "the full data set holds only $data_bytes bytes of table data (wanted >= 2 GB)"
	fi

	# the binary files the "COPY FROM file" limit reads, written once
	has_method limit_in || return 0
	mkdir "$tmp/files"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$tmp/files"
	local i
	for i in "${!tables[@]}"; do
		sql "$src_port" src -c "COPY ${tables[$i]} TO '$tmp/files/$i.bin' (FORMAT binary)"
	done
}

# ---------------------------------------------------------------- checks

check_one() {
	local i=$1 out
	out=$(sql "$check_port" "$check_db" -At -F $'\t' \
		-c "SELECT count(*), coalesce(sum(hashtext(x::text)::bigint), 0) FROM ${tables[$i]} x" 2>&1) ||
		out="error: ${out//$'\n'/ }"
	printf '%s\t%s\n' "${tables[$i]}" "$out" >"$tmp/check/$check_db.$i"
}

# checksums DB OUT: "table<TAB>rows<TAB>checksum" for every source table
checksums() {
	check_db=$1
	if [ "$1" = src ]; then check_port=$src_port; else check_port=$tgt_port; fi
	mkdir -p "$tmp/check"
	rm -f "$tmp/check/$check_db".*
	run_each "$jobs_n" check_one "${!tables[@]}" || true
	local i
	for i in "${!tables[@]}"; do cat "$tmp/check/$check_db.$i"; done >"$2"
}

# columns, indexes and constraints of the public schema, without the names
# a tool may choose for indexes and constraints
schema_sig() {
	sql "$1" "$2" -At -c "
		SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type ||
		       coalesce('(' || character_maximum_length || ')', '') ||
		       coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') ||
		       CASE is_nullable WHEN 'NO' THEN ' not null' ELSE '' END
		  FROM information_schema.columns WHERE table_schema = 'public'
		UNION ALL
		SELECT 'index ' || tablename || ' ' ||
		       regexp_replace(indexdef, '^CREATE (UNIQUE )?INDEX \S+ ON ', 'CREATE \1INDEX ON ')
		  FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
		  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		 ORDER BY 1"
}

# verify METHOD: true when the target equals the source; sets verify_note
# (what was compared, or what differs) and verify_detail (the differences)
verify() {
	local m=$1 bad=0
	verify_note="rows+checksums" verify_detail=""
	checksums tgt "$tmp/check.tgt"
	if ! cmp -s "$tmp/check.src" "$tmp/check.tgt"; then
		bad=1 verify_note="DATA MISMATCH"
		verify_detail=$(printf '%s\n' "table, rows, checksum: source (<) against target (>)"
			diff "$tmp/check.src" "$tmp/check.tgt" | grep '^[<>]' || true)
	fi
	if [ "$m" != limit_in ]; then
		schema_sig "$tgt_port" tgt >"$tmp/schema.tgt" 2>&1 || true
		if ! cmp -s "$tmp/schema.src" "$tmp/schema.tgt"; then
			if [ "$bad" = 1 ]; then verify_note+=", SCHEMA MISMATCH"; else verify_note="SCHEMA MISMATCH"; fi
			bad=1
			if [ -n "$verify_detail" ]; then verify_detail+=$'\n'; fi
			verify_detail+=$(printf '%s\n' "columns, indexes, constraints: source (<) against target (>)"
				diff "$tmp/schema.src" "$tmp/schema.tgt" | grep '^[<>]' || true)
		else
			verify_note+=", indexes"
		fi
	fi
	return "$bad"
}

# ---------------------------------------------------------------- ferryd

api() {
	local method=$1 path=$2 body=${3-} code out
	out=$(mktemp "$tmp/api.XXXXXX")
	local args=(-sS -X "$method" -o "$out" -w '%{http_code}' --max-time 60)
	if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
	code=$(curl "${args[@]}" "$ferry_base$path") || {
		rm -f "$out"
		echo "bench: $method $path: no answer from ferryd" >&2
		return 1
	}
	cat "$out"
	rm -f "$out"
	[[ $code == 2* ]]
}

# is_ferry METHOD: a method timed through a ferryd
is_ferry() { [ "$1" = ferry ] || [ "$1" = ferry_tuned ] || [ "$1" = ferry_before ]; }

# start_ferryd METHOD: this build with its defaults (ferry, also for the rss
# and the many small tables measures; ferry_before: the FERRYD_BEFORE build),
# or tuned (ferry_tuned), each with a metadata database of its own
start_ferryd() {
	local port="" deadline bin=$ferryd meta=ferry_meta flags=()
	case "${1:-}" in
	ferry) ;;
	ferry_before) bin=$ferryd_before meta=ferry_meta_before ;;
	*)
		meta=ferry_meta_tuned
		# a worker for each table job and each index job, as pgcopydb gets processes
		flags=(--workers "$((2 * jobs_n))")
		;;
	esac
	# its worker threads: the timeline's slots (ferryd's default: the cores, at least 2)
	ferry_workers=${flags[1]:-$(getconf _NPROCESSORS_ONLN)}
	if [ "$ferry_workers" -lt 2 ]; then ferry_workers=2; fi
	: >"$tmp/logs/ferryd.log.cur"
	"$bin" --meta "$(uri "$tgt_port" "$meta")" "${flags[@]}" --listen 127.0.0.1:0 \
		>>"$tmp/logs/ferryd.log.cur" 2>&1 &
	ferry_pid=$!
	deadline=$((SECONDS + 120))
	while [ -z "$port" ]; do
		port=$(sed -n 's|.* listening on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/logs/ferryd.log.cur" | tail -n 1)
		[ -z "$port" ] || break
		if ! kill -0 "$ferry_pid" 2>/dev/null; then
			tail -n 20 "$tmp/logs/ferryd.log.cur" >&2
			ferry_pid=""
			die "ferryd exited during start-up"
		fi
		[ "$SECONDS" -lt "$deadline" ] || die "ferryd did not start listening within 120 s"
		sleep 0.1
	done
	ferry_base=http://127.0.0.1:$port
	until curl -fsS --max-time 2 -o /dev/null "$ferry_base/healthz" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || die "ferryd does not answer $ferry_base/healthz"
		sleep 0.1
	done
}

stop_ferryd() {
	[ -n "$ferry_pid" ] || return 0
	kill -TERM "$ferry_pid" 2>/dev/null || true
	local deadline=$((SECONDS + 60))
	while kill -0 "$ferry_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
	if kill -0 "$ferry_pid" 2>/dev/null; then
		echo "bench: ferryd (pid $ferry_pid) did not stop within 60 s; killing it" >&2
		kill -KILL "$ferry_pid" 2>/dev/null || true
	fi
	wait "$ferry_pid" 2>/dev/null || true
	ferry_pid=""
	cat "$tmp/logs/ferryd.log.cur" >>"$tmp/logs/ferryd.log" 2>/dev/null || true
}

# ensure_job NAME SOURCE_DB INCLUDE_GLOB [TARGET_DB MODE PARALLEL]
# (defaults: tgt, drop, jobs_n tables and as many indexes at a time; PARALLEL
# "" leaves both to ferryd's defaults)
ensure_job() {
	local body
	if api GET "/api/v1/jobs/$1" >/dev/null 2>&1; then return 0; fi
	body=$(jq -n --arg name "$1" --arg src "$(uri "$src_port" "$2")" --arg dst "$(uri "$tgt_port" "${4:-tgt}")" \
		--arg inc "$3" --arg mode "${5:-drop}" --arg p "${6-$jobs_n}" '{
		name: $name, source: {dsn: $src}, target: {dsn: $dst}, include: [$inc],
		load: ({mode: $mode, create: true, validate: "none"}
			+ (if $p == "" then {} else {parallel: ($p | tonumber), index_parallel: ($p | tonumber)} end))}')
	api POST /api/v1/jobs "$body" >/dev/null || die "ferryd refused the job $1: $(api GET "/api/v1/jobs/$1" 2>&1 || true)"
}

# ---------------------------------------------------------------- methods
# Each runs in the background, its output going to a log; the time from its
# start to its end is the method's time.

m_ferry_before() { m_ferry; }
m_ferry_tuned() { m_ferry; }

m_ferry() {
	local run id
	run=$(api POST "/api/v1/jobs/$ferry_job/runs") || {
		echo "trigger refused: $run"
		return 1
	}
	id=$(jq -r .id <<<"$run")
	echo "run $id"
	# waits over kept-alive connections, then prints the run and its timeline;
	# with ferry_latency set it also times GET /api/v1/runs/{id}/tables
	if [ -z "${ferry_latency:-}" ] || [ "$latency_nice" = 0 ]; then
		node "$repo/bench/poll.js" --slots "$ferry_workers" "$ferry_base" "$id" ${ferry_latency:+"$ferry_latency"}
		return
	fi
	# The timing client runs at a raised priority, so that what it times is
	# ferryd's answer rather than its own wait for a core the database
	# servers keep busy; a second client at their priority times the same,
	# for comparison.
	local plain rc=0
	node "$repo/bench/poll.js" --latency-only "$ferry_base" "$id" "$ferry_latency.plain" &
	plain=$!
	nice -n "$latency_nice" node "$repo/bench/poll.js" --slots "$ferry_workers" "$ferry_base" "$id" "$ferry_latency" || rc=$?
	# the comparison client is not waited for: it would stop the clock late
	kill -TERM "$plain" 2>/dev/null || true
	wait "$plain" 2>/dev/null || true
	return "$rc"
}

m_pgcopydb() {
	rm -rf "$tmp/pgcopydb"
	pgcopydb clone --source "$(uri "$src_port" src)" --target "$(uri "$tgt_port" tgt)" \
		--dir "$tmp/pgcopydb" --table-jobs "$jobs_n" --index-jobs "$jobs_n"
}

m_dump_dir() {
	rm -rf "$tmp/dumpdir"
	"$pg_bin/pg_dump" -Fd -j "$jobs_n" -f "$tmp/dumpdir" -d "$(uri "$src_port" src)"
	"$pg_bin/pg_restore" -j "$jobs_n" -d "$(uri "$tgt_port" tgt)" "$tmp/dumpdir"
	rm -rf "$tmp/dumpdir"
}

m_dump_pipe() {
	"$pg_bin/pg_dump" -Fc -d "$(uri "$src_port" src)" | "$pg_bin/pg_restore" -d "$(uri "$tgt_port" tgt)"
}

pipe_one() {
	local t=${tables[$1]}
	sql "$src_port" src -c "COPY $t TO STDOUT (FORMAT binary)" |
		sql "$tgt_port" tgt -c "COPY $t FROM STDIN (FORMAT binary)"
}

m_copy_pipe() {
	"$pg_bin/pg_dump" --schema-only --section=pre-data -d "$(uri "$src_port" src)" | sql "$tgt_port" tgt
	rm -f "$tmp/post.dump"
	"$pg_bin/pg_dump" -Fc --schema-only --section=post-data -f "$tmp/post.dump" -d "$(uri "$src_port" src)"
	run_each "$jobs_n" pipe_one "${!tables[@]}"
	"$pg_bin/pg_restore" -j "$jobs_n" -d "$(uri "$tgt_port" tgt)" "$tmp/post.dump"
}

out_one() { sql "$src_port" src -c "COPY ${tables[$1]} TO STDOUT (FORMAT binary)" >/dev/null; }

m_limit_out() { run_each "$jobs_n" out_one "${!tables[@]}"; }

in_one() { sql "$tgt_port" tgt -c "COPY ${tables[$1]} FROM '$tmp/files/$1.bin' (FORMAT binary)"; }

m_limit_in() { run_each "$jobs_n" in_one "${!tables[@]}"; }

# ---------------------------------------------------------------- one timing

prepare_target() {
	sql "$tgt_port" postgres -c 'SET client_min_messages = warning' \
		-c 'DROP DATABASE IF EXISTS tgt WITH (FORCE)' -c 'CREATE DATABASE tgt'
	sql "$tgt_port" postgres -c CHECKPOINT
	sql "$src_port" postgres -c CHECKPOINT
}

# the process id of cluster NAME's postmaster
postmaster_pid() { head -n 1 "$tmp/$1/postmaster.pid"; }

# One copy with the COPY pipe before the rounds, not timed: without it the
# first method of round 1 ran 25-50% slower than its own later runs (most
# likely because a fresh target cluster writes its first WAL into new,
# zero-filled segment files, where later copies reuse old ones).
warm_up() {
	local t0=$EPOCHREALTIME
	printf '    warm-up: one COPY pipe copy, not timed ... '
	prepare_target
	m_copy_pipe >"$tmp/logs/warm-up.log" 2>&1 || die "the warm-up copy failed: $(tail -n 20 "$tmp/logs/warm-up.log")"
	printf '%.1f s\n' "$(elapsed "$t0" "$EPOCHREALTIME")"
}

# time_method METHOD ROUND: one timed copy, checked, appended to results.tsv
time_method() {
	local m=$1 r=$2 log="$tmp/logs/$1.$2.log" t0 t1 c0 c1 cpu rc=0 secs rss hwm valid=yes note
	local cpu_src cpu_tgt cpu_tool
	prepare_target
	if [ "$m" = ferry_tuned ]; then
		start_ferryd "$m"
		ensure_job "$ferry_job" "$ferry_src" "$ferry_include"
	elif is_ferry "$m"; then
		start_ferryd "$m"
		ensure_job "$ferry_job" "$ferry_src" "$ferry_include" tgt drop ""
	fi
	if [ "$m" = limit_in ]; then
		"$pg_bin/pg_dump" --schema-only --section=pre-data -d "$(uri "$src_port" src)" |
			sql "$tgt_port" tgt >/dev/null
	fi
	printf '    round %s  %-46s ' "$r" "${label[$m]}"
	t0=$EPOCHREALTIME
	c0=$(cpu_read "$(postmaster_pid source)" "$(postmaster_pid target)" "$(if is_ferry "$m"; then echo "$ferry_pid"; fi)")
	ferry_latency="$tmp/latency.$r" "m_$m" >"$log" 2>&1 &
	method_pid=$!
	if is_ferry "$m"; then
		sampler "$method_pid" "$ferry_pid" '^ferryd$' "$tmp/rss" &
		sampler_pid=$!
	else
		sampler "$method_pid" "$method_pid" '^(pgcopydb|pg_dump|pg_restore|psql)$' "$tmp/rss" &
		sampler_pid=$!
	fi
	wait "$method_pid" || rc=$?
	t1=$EPOCHREALTIME
	c1=$(cpu_read "$(postmaster_pid source)" "$(postmaster_pid target)" "$(if is_ferry "$m"; then echo "$ferry_pid"; fi)")
	method_pid=""
	wait "$sampler_pid" || true
	sampler_pid=""
	rss=$(cat "$tmp/rss")
	if is_ferry "$m"; then
		hwm=$(vm_hwm "$ferry_pid")
		if [ "${hwm:-0}" -gt "$rss" ]; then rss=$hwm; fi
		stop_ferryd
	fi
	secs=$(elapsed "$t0" "$t1")
	# what the machine, the source and the target cluster spent, and ferryd
	# (other methods: the rest of the machine, their clients and the kernel)
	read -r cpu cpu_src cpu_tgt cpu_tool < <(cpu_split "$c0" "$c1")
	printf '%9.1f s  %7.1f MB RSS  %6.1f CPU s (source %s, target %s, %s %s)  ' "$secs" \
		"$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$cpu" "$cpu_src" "$cpu_tgt" \
		"$(if is_ferry "$m"; then echo ferryd; else echo rest; fi)" "$cpu_tool"
	if [ "$rc" -ne 0 ]; then
		valid=no note="FAILED (exit status $rc)"
		echo "$note"
		loud "${label[$m]} FAILED in round $r (exit status $rc); last lines of its output:" \
			"$(tail -n 25 "$log")"
		if is_ferry "$m"; then tail -n 25 "$tmp/logs/ferryd.log" >&2 || true; fi
	elif [ "$m" = limit_out ]; then
		note="no target"
		echo "$note"
	elif verify "$m"; then
		note=$verify_note
		echo "check ok ($note)"
	else
		valid=no note=$verify_note
		echo "CHECK FAILED: $note"
		loud "${label[$m]}, round $r: THE TARGET DOES NOT EQUAL THE SOURCE; this method's result is INVALID" \
			"$verify_detail"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$r" "$secs" "$rss" "$valid" "$note" "$cpu" \
		"$cpu_src" "$cpu_tgt" "$cpu_tool" >>"$tmp/results.tsv"
}

# ferryd's peak RSS copying only the device table, from a database holding
# 1/10 of its rows and from the full source
rss_compare() {
	local db rc kb
	say "ferryd peak RSS: device table alone, 1/10 of the rows against all of them"
	for db in rss_small src; do
		prepare_target
		ferry_job=bench-device-$db ferry_src=$db ferry_include=public.device
		start_ferryd ferry
		ensure_job "$ferry_job" "$ferry_src" "$ferry_include" tgt drop ""
		rc=0
		m_ferry >"$tmp/logs/rss-$db.log" 2>&1 || rc=$?
		kb=$(vm_hwm "$ferry_pid")
		stop_ferryd
		local n
		n=$(sql "$src_port" "$db" -At -c 'SELECT count(*) FROM device')
		if [ "$rc" -ne 0 ]; then
			loud "ferryd failed to copy the device table from $db:" "$(tail -n 25 "$tmp/logs/rss-$db.log")"
			kb=""
		fi
		printf '    device %12s rows: ferryd peak RSS %s\n' "$(commas "$n")" \
			"$([ -n "$kb" ] && awk -v k="$kb" 'BEGIN { printf "%.1f MB", k / 1024 }' || echo "n/a (failed)")"
		printf '%s\t%s\t%s\n' "$db" "$n" "$kb" >>"$tmp/rss.tsv"
	done
	ferry_job=bench ferry_src=src ferry_include='public.*'
}

# ---------------------------------------------------------------- many small tables
# A ferry job over many tiny tables, against the same work done by psql: what
# ferry adds per table (planning, task claims, events, connections, metadata
# writes) is the difference, divided by the number of tables.

# the table names, one per line: t0001, t0002, ...
many_names() {
	awk -v n="$many_tables" 'BEGIN {
		w = length(n ""); if (w < 4) w = 4
		for (i = 1; i <= n; i++) printf "t%0" w "d\n", i }'
}

# many_ddl [rows]: schema many and its tables, 200 to a transaction; with
# "rows", each table also gets its rows
many_ddl() {
	many_names | awk -v rows="${1:-}" -v k="$many_rows" '
		NR == 1 { print "CREATE SCHEMA many;" }
		NR % 200 == 1 { print "BEGIN;" }
		{
			printf "CREATE TABLE many.%s (id integer PRIMARY KEY, name text NOT NULL, value double precision);\n", $1
			if (rows != "")
				printf "INSERT INTO many.%s SELECT g, %s || g, g * 0.5 FROM generate_series(1, %d) g;\n", $1, "'\''row '\''", k
		}
		NR % 200 == 0 { print "COMMIT;" }
		END { if (NR % 200) print "COMMIT;" }'
}

# The work of the job done by a plain client. The source side: one session,
# one repeatable read transaction, every table's COPY out. The target side:
# one session and, as ferry does, one transaction per table that empties the
# table and COPYs its rows in (FREEZE, as ferry after a TRUNCATE).
many_source_script() {
	echo 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;'
	many_names | awk '{ printf "COPY many.%s TO STDOUT;\n", $1 }'
	echo 'COMMIT;'
}

many_target_script() {
	many_names | awk -v k="$many_rows" '{
		printf "BEGIN;\nTRUNCATE many.%s;\nCOPY many.%s FROM STDIN (FREEZE);\n", $1, $1
		for (g = 1; g <= k; g++) printf "%d\trow %d\t%s\n", g, g, g * 0.5
		print "\\."
		print "COMMIT;"
	}'
}

# "table<TAB>rows<TAB>checksum" of every table of schema many
many_sums() {
	sql "$1" "$2" -At -F $'\t' <<-'EOF'
		SELECT format('SELECT %L, count(*), coalesce(sum(hashtext(x::text)::bigint), 0) FROM many.%I x',
		              relname, relname)
		  FROM pg_class WHERE relnamespace = 'many'::regnamespace AND relkind = 'r' ORDER BY relname
		\gexec
	EOF
}

# Where the target's many small tables keep their files. Every pass empties
# all of them, and each TRUNCATE gives a table new files and deletes its old
# ones (at the next checkpoint). On ext4, creating files soon after deleting
# thousands is slow (inode allocation skips the recently deleted inodes one
# by one) and its cost moves with the seconds since: the same psql pass over
# 5,000 tables took from 11.0 to 28.4 s on the bench machine, and the same
# ferry run from 31 to 62 s, a noise far above the difference measured here.
# So, when /dev/shm is a memory file system, database manytgt lives in a
# tablespace there (its WAL stays with the cluster, on disk, and every
# commit still waits for it): both methods then pay the server's work
# without the file system's moods. BENCH_MANY_ON_DISK=1 keeps it on disk.
many_tablespace() {
	local need_kb free_kb
	many_where="on disk, with the cluster"
	[ "$many_on_disk" = 1 ] && return 0
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || return 0
	# about 40 kB a table (heap, primary key, TOAST table and index, maps), twice over, and 64 MB
	need_kb=$((many_tables * 80 + 65536))
	free_kb=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')
	if [ "${free_kb:-0}" -lt "$need_kb" ]; then
		many_where="on disk, with the cluster (/dev/shm has $((free_kb / 1024)) MB free, $((need_kb / 1024)) MB wanted)"
		return 0
	fi
	many_ts_dir=$(mktemp -d /dev/shm/ferry-bench-many.XXXXXX) || return 0
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$many_ts_dir"; fi
	sql "$tgt_port" postgres -c "CREATE TABLESPACE many_mem LOCATION '$many_ts_dir'"
	many_ts="TABLESPACE many_mem"
	many_where="in a tablespace on /dev/shm (tmpfs), WAL on disk"
}

many_setup() {
	local t0=$SECONDS
	say "many small tables: $(commas "$many_tables") tables of $many_rows rows in database \"many\" (the same tables, with the same rows, in \"manytgt\" on the target)"
	# The last copy of the main data set goes first (an empty tgt takes its
	# place). Left there, autovacuum vacuums and analyzes its tables beside
	# the rounds below (the device table's 10 million rows for a minute and
	# more), and the rounds that met it took 1.5-2 times as long as the others.
	prepare_target
	sql "$src_port" postgres -c 'CREATE DATABASE many'
	many_tablespace
	sql "$tgt_port" postgres -c "CREATE DATABASE manytgt $many_ts"
	printf '    the target tables live %s\n' "$many_where"
	many_ddl rows | sql "$src_port" many
	# the target tables start as every timing leaves them, holding their
	# rows: emptying a table that holds rows costs more than an empty one
	many_ddl rows | sql "$tgt_port" manytgt
	sql "$src_port" many -c 'VACUUM (FREEZE, ANALYZE)'
	many_sums "$src_port" many >"$tmp/many.src"
	many_source_script >"$tmp/many-source.sql"
	many_target_script >"$tmp/many-target.sql"
	printf '    done in %d s\n' $((SECONDS - t0))
}

many_psql() {
	local r=$1 t0 t1 t2
	sql "$tgt_port" postgres -c CHECKPOINT
	sql "$src_port" postgres -c CHECKPOINT
	t0=$EPOCHREALTIME
	sql "$src_port" many -f "$tmp/many-source.sql" >/dev/null
	t1=$EPOCHREALTIME
	sql "$tgt_port" manytgt -f "$tmp/many-target.sql"
	t2=$EPOCHREALTIME
	printf '%s\t%s\t%s\n' "$r" "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" >>"$tmp/many-psql.tsv"
	printf '    round %s  psql: source %s s + target %s s\n' "$r" "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")"
}

# One ferry run of the job; appends round, the run's seconds (created_at to
# finished_at, as ferryd recorded them), the plan's ms (its planned event),
# the sum of the tables' elapsed_ms, the seconds the client saw, and the check.
many_ferry() {
	local r=$1 log="$tmp/logs/many-ferry.$1.log" t0 t1 rc=0 id run secs plan_ms task_ms check=ok
	sql "$tgt_port" postgres -c CHECKPOINT
	sql "$src_port" postgres -c CHECKPOINT
	start_ferryd ferry
	ensure_job bench-many many 'many.*' manytgt replace 1
	t0=$EPOCHREALTIME
	ferry_job=bench-many m_ferry >"$log" 2>&1 || rc=$?
	t1=$EPOCHREALTIME
	id=$(sed -n 's/^run \([0-9a-f-][0-9a-f-]*\)$/\1/p' "$log" | head -n 1)
	secs="" plan_ms="" task_ms=""
	if [ "$rc" -eq 0 ] && [ -n "$id" ]; then
		run=$(api GET "/api/v1/runs/$id")
		secs=$(jq -r '"SELECT extract(epoch FROM timestamptz \u0027\(.finished_at)\u0027 - timestamptz \u0027\(.created_at)\u0027)"' <<<"$run" |
			sql "$tgt_port" postgres -At)
		plan_ms=$(api GET "/api/v1/runs/$id/events?limit=50" |
			jq -r '[.items[] | select(.kind == "planned")][0].message' | sed -n 's/.* in \([0-9][0-9]*\) ms$/\1/p')
		task_ms=$(api GET "/api/v1/runs/$id/tables" | jq '[.items[].elapsed_ms] | add')
		if [ "$(jq -r .tables.total <<<"$run")" != "$many_tables" ]; then
			check="the run had $(jq -r .tables.total <<<"$run") tables"
		fi
	else
		check="FAILED (exit status $rc)"
		loud "ferry failed the many small tables job in round $r; last lines of its output:" "$(tail -n 25 "$log")"
	fi
	stop_ferryd
	if [ "$check" = ok ]; then
		many_sums "$tgt_port" manytgt >"$tmp/many.tgt" 2>&1 || true
		if ! cmp -s "$tmp/many.src" "$tmp/many.tgt"; then
			check="DATA MISMATCH"
			loud "many small tables, round $r: THE TARGET DOES NOT EQUAL THE SOURCE" \
				"$(diff "$tmp/many.src" "$tmp/many.tgt" | grep '^[<>]' | head -n 20)"
		fi
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "${secs:-0}" "${plan_ms:-0}" "${task_ms:-0}" \
		"$(elapsed "$t0" "$t1")" "$check" >>"$tmp/many-ferry.tsv"
	printf '    round %s  ferry: run %s s (client %s s), planned in %s ms, check %s\n' "$r" "${secs:-?}" \
		"$(elapsed "$t0" "$t1")" "${plan_ms:-?}" "$check"
}

# One pass of the target's work by psql before the rounds, not timed, so
# that every timed pass follows another one. On disk (see many_tablespace)
# the first pass after the set-up finds no recently deleted inodes and ran
# about twice as fast as later ones (11.0 s against 20.6-28.4 s for 5,000
# tables): without this pass, the method that came first in round 1 would
# get that advantage.
many_warm_up() {
	local t0=$EPOCHREALTIME
	printf '    warm-up: the target pass by psql, not timed ... '
	sql "$tgt_port" postgres -c CHECKPOINT
	sql "$tgt_port" manytgt -f "$tmp/many-target.sql"
	printf '%.1f s\n' "$(elapsed "$t0" "$EPOCHREALTIME")"
}

many_measure() {
	local r
	many_setup
	many_warm_up
	: >"$tmp/many-psql.tsv"
	: >"$tmp/many-ferry.tsv"
	for ((r = 1; r <= many_repeat; r++)); do
		if ((r % 2)); then
			many_psql "$r"
			many_ferry "$r"
		else
			many_ferry "$r"
			many_psql "$r"
		fi
	done
}

# ---------------------------------------------------------------- report

machine_info() {
	cores=$(nproc)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	pg_version=$(sql "$src_port" postgres -At -c 'SHOW server_version')
	pgcopydb_version=$(pgcopydb --version 2>/dev/null | sed -n 's/^pgcopydb version //p' | head -n 1)
	ferry_version=$("$ferryd" --version 2>/dev/null | head -n 1 || true)
	if [ -n "${FERRYD:-}" ]; then
		commit="binary $FERRYD"
	else
		commit="git $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		if [ -n "$(git -C "$repo" status --porcelain -- core server 2>/dev/null)" ]; then
			commit+=" with uncommitted changes in core/ or server/"
		fi
	fi
}

report() {
	local out=$1
	local mb_data
	mb_data=$(awk -v b="$data_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
	{
		printf '# ferry benchmark, %s on %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(hostname)"
		printf -- '- machine: %s cores (%s), %s memory, %s\n' "$cores" "$cpu" "$mem" "$(uname -sr)"
		printf -- '- PostgreSQL %s (source and target clusters on 127.0.0.1, same settings, fsync on); pgcopydb %s; %s (%s)\n' \
			"$pg_version" "$pgcopydb_version" "$ferry_version" "$commit"
		printf -- '- load average before / after: %s / %s\n' "$load_before" "$load_after"
		if [ -n "${BENCH_NOTE:-}" ]; then printf -- '- note: %s\n' "$BENCH_NOTE"; fi
		if [ ${#methods[@]} -gt 0 ]; then
			printf -- '- data set (shape %s, scale %s): %s MB of table data (sum of pg_table_size), %s rows, %s MB of indexes:\n\n' \
				"$shape" "$scale" "$mb_data" "$(commas "$total_rows")" "$(awk -v b="$index_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')"
			printf '| table | rows | size |\n| --- | ---: | --- |\n'
			printf '%s\n' "${dataset_lines[@]}"
			printf '\n- %s round(s); every round runs each method once, the order rotated by one each round;\n' "$repeat"
			printf '  each method has %s table jobs and %s index jobs; the time covers schema, data, primary keys and indexes\n' "$jobs_n" "$jobs_n"
			printf '  (the two limits: data only); MB/s is table data MB (10^6 bytes) / median s; peak RSS is the\n'
			printf '  largest over the rounds (ferry: ferryd alone; the others: the sum over their processes)\n\n'
			summary_table
		fi
		printf '\n'
		targets
		if [ "$run_many" = 1 ]; then
			printf '\n'
			many_report
		fi
		if [ ${#methods[@]} -gt 0 ]; then
			printf '\n## Every run\n\nCPU s: what the whole machine spent (both clusters, the tool, the kernel) while the method ran;\n'
			printf 'of it, the source cluster, the target cluster (ferryd'"'"'s metadata database included), and\n'
			printf 'ferryd (for the other methods: the rest, their clients and the kernel). Two cores give at\n'
			printf 'most twice the seconds in CPU seconds.\n\n'
			printf '| round | method | seconds | CPU s | source | target | ferryd / rest | peak RSS MB | check |\n'
			printf '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
			awk -F '\t' -v OFS=' | ' 'NR == FNR { lab[$1] = $2; next }
				{ printf "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s |\n", $2, lab[$1], $3, $7, $8, $9, $10,
					$4 / 1024, ($5 == "yes" ? "" : "INVALID: ") $6 }' \
				<(for m in "${methods[@]}"; do printf '%s\t%s\n' "$m" "${label[$m]}"; done) "$tmp/results.tsv"
			timelines
		fi
	} >"$out"
}

# Where each ferry run's time went: the summary line of its timeline (see
# bench/poll.js; the whole timeline is in the method's log, kept with
# BENCH_LOGS), round by round
timelines() {
	local m r line printed=0
	for m in "${methods[@]}"; do
		is_ferry "$m" || continue
		for ((r = 1; r <= repeat; r++)); do
			line=$(sed -n 's/^timeline: //p' "$tmp/logs/$m.$r.log" 2>/dev/null | tail -n 1)
			[ -n "$line" ] || continue
			if [ "$printed" = 0 ]; then
				printf '\n## Where ferry'"'"'s time went\n\n'
				printf 'From each run'"'"'s events: its copies (a table read in parts counts each part) and post-load\n'
				printf 'steps, and the idle slot seconds, while fewer of them ran at once than ferryd has workers.\n\n'
				printed=1
			fi
			printf -- '- %s, round %s: %s\n' "${label[$m]}" "$r" "$line"
		done
	done
}

# An awk function for the awk programs below: the median of the numbers in
# a list separated by spaces.
awk_median='
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}'

summary_table() {
	awk -F '\t' -v bytes="$data_bytes" -v rows="$total_rows" "$awk_median"'
		NR == FNR { order[++k] = $1; lab[$1] = $2; next }
		{ t[$1] = t[$1] " " $3; n[$1]++; if ($5 == "yes") ok[$1]++; if ($4 > rss[$1]) rss[$1] = $4 }
		END {
			if (n["ferry"]) fm = median(t["ferry"])
			print "| method | median s | MB/s | rows/s | peak RSS MB | time / ferry | valid runs |"
			print "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
			for (i = 1; i <= k; i++) {
				m = order[i]
				if (!n[m]) continue
				md = median(t[m])
				printf "| %s | %.1f | %.1f | %.0f | %.1f | %s | %d/%d%s |\n", lab[m], md, bytes / 1e6 / md,
				       rows / md, rss[m] / 1024, (fm > 0 ? sprintf("%.2f", md / fm) : "n/a"),
				       ok[m] + 0, n[m], (ok[m] == n[m] ? "" : " INVALID")
			}
		}' <(for m in "${methods[@]}"; do printf '%s\t%s\n' "$m" "${label[$m]}"; done) "$tmp/results.tsv"
}

# median seconds of a method; empty when it has no runs or an invalid one
median_of() {
	awk -F '\t' -v m="$1" "$awk_median"'
		$1 == m { list = list " " $3; n++; if ($5 != "yes") bad = 1 }
		END { if (n && !bad) printf "%.3f", median(list) }' "$tmp/results.tsv"
}

# ferry's time over METHOD's within each round where both copies were valid:
# "RATIOS<TAB>MEDIAN" (the ratios separated by ", "), or nothing with fewer
# than one such round. The targets judge the median of these ratios: rounds
# alternate the methods within minutes of each other, where the medians of
# the times may pair a fast minute of one with a slow one of the other.
round_ratios() {
	awk -F '\t' -v m="$1" "$awk_median"'
		$1 == "ferry" && $5 == "yes" { f[$2] = $3 }
		$1 == m && $5 == "yes" { o[$2] = $3 }
		$2 > last { last = $2 }
		END {
			for (r = 1; r <= last; r++)
				if (r in f && r in o) {
					x = f[r] / o[r]
					shown = shown sprintf("%s%.2f", n++ ? ", " : "", x)
					list = list " " x
				}
			if (n >= 1)
				printf "%s\t%.2f\n", shown, median(list)
		}' "$tmp/results.tsv"
}

targets() {
	printf '## Targets\n\n'
	if [ ${#methods[@]} -gt 0 ]; then round_targets; fi
	if [ "$run_many" = 1 ]; then many_target; fi
}

round_targets() {
	local f other m want verdict rr shown med
	f=$(median_of ferry)
	# the targets on every shape: ferry's time, as the median of its
	# round-by-round ratios, at most these times the other method's
	for m in pgcopydb:0.7 copy_pipe:0.85 dump_dir:0.5; do
		want=${m#*:} m=${m%%:*}
		other=$(median_of "$m")
		rr=$(round_ratios "$m")
		if ! has_method ferry || ! has_method "$m"; then
			printf -- '- ferry <= %s x %s: not measured\n' "$want" "${label[$m]}"
		elif [ -z "$rr" ]; then
			printf -- '- ferry <= %s x %s: NOT JUDGED (no round where both copies ran and matched the source)\n' \
				"$want" "${label[$m]}"
		else
			shown=${rr%%$'\t'*} med=${rr#*$'\t'}
			verdict=$(awk -v r="$med" -v w="$want" 'BEGIN { print (r <= w ? "MET" : "MISSED") }')
			printf -- '- ferry <= %s x %s, round by round: %s; median %s x -> **%s**\n' "$want" "${label[$m]}" \
				"$shown" "$med" "$verdict"
			if [ -n "$f" ] && [ -n "$other" ]; then
				printf -- '  - the medians of the times: %.1f s / %.1f s = %s x (not judged)\n' "$f" "$other" \
					"$(awk -v a="$f" -v b="$other" 'BEGIN { printf "%.2f", a / b }')"
			fi
		fi
	done
	if has_method ferry; then
		local peak
		peak=$(awk -F '\t' '$1 == "ferry" && $4 > p { p = $4 } END { printf "%d", p }' "$tmp/results.tsv")
		printf -- '- ferryd peak RSS <= 64 MB: %.1f MB -> **%s**\n' "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')" \
			"$(awk -v k="$peak" 'BEGIN { print (k / 1024 <= 64 ? "MET" : "MISSED") }')"
		latency_target
	fi
	if [ -s "$tmp/rss.tsv" ]; then
		awk -F '\t' '
			{ n[NR] = $2; k[NR] = $3 }
			END {
				if (k[1] == "" || k[2] == "") {
					printf "- ferryd RSS, device table %d vs %d rows, within 10%%: NOT JUDGED (a copy failed)\n", n[1], n[2]
					exit
				}
				d = (k[2] - k[1]) / k[1] * 100
				printf "- ferryd RSS, device table alone, %d rows vs %d rows, within 10%%: %.1f MB vs %.1f MB (%+.1f%%) -> **%s**\n",
				       n[1], n[2], k[1] / 1024, k[2] / 1024, d, (d <= 10 && d >= -10 ? "MET" : "MISSED")
			}' "$tmp/rss.tsv"
	elif has_method ferry; then
		printf -- '- ferryd RSS, device table 1/10 vs full: not measured (BENCH_RSS_CHECK=0)\n'
	fi
}

# The answer times of GET /api/v1/runs/{id}/tables over every ferry round:
# count, p50, p99 (nearest rank) and max; an answer other than 200 misses.
# One line for each polling loop: the kept-alive connection (latency.R) and
# a new connection per request (latency.R.fresh), both from the client at
# a raised priority when there was one; then, not judged, the same two from
# the client at the servers' priority (latency.R.plain, latency.R.plain.fresh).
latency_target() {
	local kind files f
	for kind in kept fresh plain plain.fresh; do
		files=()
		for f in "$tmp"/latency.[0-9]*; do
			case $f in
			*.plain.fresh) [ "$kind" = plain.fresh ] ;;
			*.plain) [ "$kind" = plain ] ;;
			*.fresh) [ "$kind" = fresh ] ;;
			*) [ "$kind" = kept ] ;;
			esac && [ -s "$f" ] && files+=("$f")
		done
		case $kind in plain*) [ ${#files[@]} -gt 0 ] || continue ;; esac
		latency_line "$kind" "${files[@]}"
	done
}

latency_line() {
	local kind=$1 what
	shift
	local who="the timing client at niceness $(($(nice) + latency_nice)), the servers at $(nice)" judged=1
	if [ "$latency_nice" = 0 ]; then who="the client at the servers' priority"; fi
	case $kind in
	kept) what="GET /api/v1/runs/{id}/tables while ferry runs, one kept-alive connection ($who), p99 <= 20 ms" ;;
	fresh) what="the same, a new connection per request, p99 <= 20 ms" ;;
	plain) what="for comparison, the same from a client at the servers' priority, kept-alive" judged=0 ;;
	plain.fresh) what="for comparison, the same from a client at the servers' priority, a new connection per request" judged=0 ;;
	esac
	if [ $# -eq 0 ]; then
		printf -- '- %s: NOT JUDGED (no request was made)\n' "$what"
		return
	fi
	sort -k2,2g "$@" | awk -v what="$what" -v runs="$#" -v judged="$judged" '
		function rank(p,   i) {
			i = int(p / 100 * n)
			if (i < p / 100 * n) i++
			return ms[i < 1 ? 1 : i]
		}
		{ ms[++n] = $2 * 1000; if ($1 != "200") bad++ }
		END {
			p99 = rank(99)
			printf "- %s: %d requests over %d run(s), p50 %.1f ms, p99 %.1f ms, max %.1f ms%s%s\n",
			       what, n, runs, rank(50), p99, ms[n], (bad ? sprintf(", %d answers not 200", bad) : ""),
			       (!judged ? " (not judged)" : p99 <= 20 && !bad ? " -> **MET**" : " -> **MISSED**")
		}'
}

# The many small tables figures of every round, joined: the psql times of
# a round (round, source s, target s) with its ferry run (round, run s, plan
# ms, tables' ms, client s, check).
many_rounds() {
	awk -F '\t' -v OFS='\t' 'NR == FNR { s[$1] = $2; t[$1] = $3; next }
		{ print $1, $2, $3 / 1000, $4 / 1000, $5, s[$1], t[$1], $6 }' "$tmp/many-psql.tsv" "$tmp/many-ferry.tsv"
}

many_target() {
	local what
	what="ferry bookkeeping per table, $(commas "$many_tables") small tables (target tables $many_where), <= 2 ms"
	many_rounds | awk -F '\t' -v n="$many_tables" -v what="$what" "$awk_median"'
		{
			k++
			if ($8 != "ok") bad++
			run = run " " $2; work = work " " ($6 + $7); plan = plan " " ($3 * 1000 / n)
			keep = keep " " (($2 - $6 - $7) * 1000 / n)
		}
		END {
			if (!k || bad) {
				printf "- %s: NOT JUDGED (%d of %d ferry runs failed or did not match the source)\n", what, bad, k
				exit
			}
			b = median(keep)
			printf "- %s: (ferry run - psql doing the same work) / tables = %.2f ms (median of %d round(s): run %.1f s, psql %.1f s; planning alone %.2f ms per table) -> **%s**\n",
			       what, b, k, median(run), median(work), median(plan), (b <= 2 ? "MET" : "MISSED")
		}'
}

many_report() {
	printf '## Many small tables\n\n'
	cat <<-EOF
		$(commas "$many_tables") tables in schema \`many\` of database \`many\` on the source, each
		\`(id integer PRIMARY KEY, name text NOT NULL, value double precision)\` with $many_rows rows,
		and the same tables, created and filled with the same rows beforehand (not timed), in \`manytgt\`
		on the target, so that every timing starts from what the one before it left; before the rounds,
		one untimed psql pass over the target, so that the first timing follows a pass as every other
		one does. The target tables live $many_where. ferry: a fresh
		ferryd, the job \`include: ["many.*"]\`, \`load: {mode: replace, parallel: 1, validate: none}\`: per
		table one transaction on the target that empties the table (\`TRUNCATE\`) and \`COPY\`s its rows in;
		no DDL. psql does the same work in two sessions, one after the other: on the source, in one
		repeatable read transaction, \`COPY many.t TO STDOUT\` for every table; on the target, per table
		\`BEGIN; TRUNCATE; COPY ... FROM STDIN (FREEZE); COMMIT\`, the rows inline.

		* **run s**: the run's \`finished_at - created_at\` as ferryd recorded it (trigger, planning, every
		  table, the end); **client s**: the same seen from the API client, which polls every 0.2 s;
		* **plan s**: from the run's \`planned\` event (\`... in N ms\`): reading the source catalog,
		  resolving the job and storing one task per table;
		* **tables s**: the sum of the tables' \`elapsed_ms\` (from the start of the task's claim, which
		  stamps \`started_at\`, to its close: the claim, the \`table_started\` event, the two connections,
		  the snapshot import, the data, the load marker); **between s** = run - plan - tables: events,
		  closing the tasks and the run;
		* **bookkeeping ms/table** = (run s - psql source s - psql target s) / tables: everything ferry
		  does beyond the database work a plain client needs for the same job, planning included.
		  One table at a time (\`parallel: 1\`), so it is a cost per table, not hidden behind another
		  table's work.

	EOF
	printf '| round | run s | client s | plan s | tables s | between s | psql source s | psql target s | bookkeeping ms/table | plan ms/table | check |\n'
	printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
	many_rounds | awk -F '\t' -v n="$many_tables" '{
		printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", $1, $2, $5, $3, $4,
		       $2 - $3 - $4, $6, $7, ($2 - $6 - $7) * 1000 / n, $3 * 1000 / n, $8 }'
}

# ---------------------------------------------------------------- main

main() {
	check_tools
	find_pg_bin
	local v
	for v in $(compgen -e); do
		if [[ $v == PG* ]]; then unset "$v"; fi
	done

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
	mkdir "$tmp/logs" "$tmp/sock"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tmp" "$tmp/sock" "$tmp/logs"; fi
	say "working in $tmp"
	# a rebuild of build/ferryd while the benchmark runs must not change what is measured
	cp "$ferryd" "$tmp/ferryd"
	ferryd=$tmp/ferryd

	local need=0 avail
	if [ ${#methods[@]} -gt 0 ]; then
		case $shape in
		tables) need=$((tables_n * 26 * 6)) ;;
		toast) need=$(((toast_docs * 330 / 1000 + toast_attachments * 11 / 10) * 6)) ;;
		*)
			need=$(awk -v d="$device_rows" -v p="$pgbench_scale" -v w="$wide_rows" \
				'BEGIN { printf "%d", (d * 150 + p * 16000000 + w * 950) * 6 / 1048576 }')
			;;
		esac
	fi
	if [ "$run_many" = 1 ]; then need=$((need + many_tables / 10)); fi
	avail=$(df -Pm "$tmp" | awk 'NR == 2 { print $4 }')
	[ "$avail" -ge "$need" ] || die "$tmp has $avail MB free; this data set needs about $need MB"

	src_port=$(free_port 55432)
	tgt_port=$(free_port $((src_port + 1)))
	say "starting the source (127.0.0.1:$src_port) and target (127.0.0.1:$tgt_port) clusters, PostgreSQL $("$pg_bin/postgres" --version | sed 's/.*) \([0-9.]*\).*/\1/')"
	start_cluster source "$src_port"
	start_cluster target "$tgt_port"
	if has_method ferry || [ "$rss_check" = 1 ] || [ "$run_many" = 1 ]; then
		sql "$tgt_port" postgres -c 'CREATE DATABASE ferry_meta'
	fi
	if has_method ferry_tuned; then sql "$tgt_port" postgres -c 'CREATE DATABASE ferry_meta_tuned'; fi
	if has_method ferry_before; then sql "$tgt_port" postgres -c 'CREATE DATABASE ferry_meta_before'; fi

	if [ ${#methods[@]} -gt 0 ]; then make_source; fi
	machine_info
	load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)

	ferry_job=bench ferry_src=src ferry_include='public.*'
	: >"$tmp/results.tsv"
	local r i n=${#methods[@]}
	if [ "$n" -gt 0 ]; then warm_up; fi
	for ((r = 1; r <= repeat && n > 0; r++)); do
		say "round $r of $repeat"
		for ((i = 0; i < n; i++)); do
			time_method "${methods[$(((i + r - 1) % n))]}" "$r"
		done
	done
	if [ "$rss_check" = 1 ]; then rss_compare; fi
	if [ "$run_many" = 1 ]; then many_measure; fi
	load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)

	local out=${BENCH_RESULTS:-}
	if [ -z "$out" ]; then
		out="$repo/bench/results/$(date '+%Y-%m-%d')-$(hostname -s)"
		if [ "$n" -eq 0 ]; then
			out+="-many-$many_tables"
		else
			if [ "$shape" != standard ]; then out+="-$shape"; fi
			if [ "$scale" != full ]; then out+="-scale-$scale"; fi
		fi
		out+=.md
	fi
	mkdir -p "$(dirname "$out")"
	report "$out"
	echo
	sed -n '/^| method /,/^$/p' "$out"
	awk '/^## / { on = ($0 == "## Targets") } on' "$out"
	sed -n '/^| round | run s /,/^$/p' "$out"
	say "results written to $out"
	local bad=0
	if awk -F '\t' '$5 != "yes" { bad = 1 } END { exit !bad }' "$tmp/results.tsv"; then bad=1; fi
	if [ "$run_many" = 1 ] && awk -F '\t' '$6 != "ok" { bad = 1 } END { exit !bad }' "$tmp/many-ferry.tsv"; then
		bad=1
	fi
	if [ "$bad" = 1 ]; then
		loud "at least one copy failed or did not match the source; see above"
		return 1
	fi
}

tables=()
dataset_lines=()
data_bytes=0
index_bytes=0
total_rows=0
load_before=""
load_after=""
verify_note=""
verify_detail=""
check_db=""
check_port=""
ferry_job=bench
ferry_src=src
ferry_include='public.*'
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
main "$@"

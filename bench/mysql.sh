#!/usr/bin/env bash
# bench/mysql.sh: time a whole MariaDB -> PostgreSQL copy (schema, data,
# primary keys, indexes) with ferry, with pgloader and by hand, on the same
# data and the same two throwaway servers, and check every copy.
#
# What happens (everything under one temporary directory, removed on exit):
#   1. a MariaDB server (the source) and a PostgreSQL cluster (the target,
#      which also holds ferryd's metadata database), listening on 127.0.0.1
#      only; PostgreSQL with fsync on, as in bench/run.sh;
#   2. the source database "bench" gets the data set, made inside the server
#      from the Sequence engine's seq_1_to_N tables: the telemetry table
#      "device" (id, device_id, ts, temperature, humidity, status, note; a
#      secondary index on (device_id, ts)) and the table "wide" (text, a
#      1 kB BLOB, DECIMAL(18,4), DATETIME, JSON; an index on created_at);
#      per-table row counts and checksums are taken;
#   3. a ferryd is started with its defaults and a job created with
#      ferry's defaults but for mode drop and validate count; the job's
#      load.parallel (N) is the number of tables every other method copies
#      at a time, and of indexes it builds at a time;
#   4. each round runs every method once, in a rotated order; before each
#      method the target database "tgt" is dropped and created empty, and
#      after it the target is compared with the source (row count and a
#      checksum per table, and the primary key and indexes); a mismatch
#      marks the method invalid. The methods:
#        ferry      a run of the job (trigger to end, seen by an API client)
#        pgloader   LOAD DATABASE ... WITH workers = 2N, concurrency = 1:
#                   pgloader gives each table a reader and (concurrency)
#                   one writer, and lets "workers" of them run at once, so
#                   that N tables load at a time (with workers = N, one)
#        pgloader_prefetch  the same with prefetch rows = 10000 (a tenth
#                   of the default), the usual answer to pgloader running
#                   out of heap ("Heap exhausted during garbage collection",
#                   github.com/dimitri/pgloader/issues/962)
#        pipe       the hand-made limit: per table, mariadb --batch running
#                   a SELECT whose text output is already COPY text, piped
#                   into psql's COPY FROM STDIN, N tables at a time, into
#                   tables made by a DDL script; then the same primary keys
#                   and indexes, N at a time
#        limit_out  the source half alone: the same SELECTs to /dev/null
#        limit_in   the target half alone: COPY FROM files holding what the
#                   SELECTs print (written once, before the rounds)
#   5. a table of medians is printed and written to
#      bench/results/<date>-<host>-mysql.md, followed by the targets.
# The exit status is 1 when a copy by ferry or by hand failed or did not
# match the source; pgloader failing is reported, and leaves it 0.
#
# The checksum, computed alike by both servers: per table, the sum over the
# rows of the first 32 bits of md5(concat_ws('|', columns...)) as a number;
# the columns, written so that both servers print them the same way:
#   device  id, device_id, ts (to the microsecond), floor(temperature * 10^6),
#           humidity, status, note (NULL as ~)
#   wide    id, name, descr (NULL as ~), body, md5(payload), amount,
#           created_at, attrs' "sku" member
# (left out: wide.attrs as a whole, whose text jsonb rewrites, and the bare
# double's text, which the two servers print differently).
#
# Environment:
#   BENCH_SCALE=full|small|F  data set size: full (default: 10M device rows,
#                             700k wide rows, about 2.5 GB in InnoDB), small
#                             (200k, 14k) or a factor of full
#   BENCH_MYSQL_REPEAT=N      rounds (default 3)
#   BENCH_MYSQL_METHODS=a,b   only these methods (default all): ferry,
#                             pgloader, pgloader_prefetch, pipe, limit_out,
#                             limit_in
#   BENCH_NOTE=TEXT           a remark written into the results file
#   BENCH_LOGS=DIR            keep every log (each method's, ferryd's,
#                             pgloader's, the servers') in DIR at the end
#   BENCH_RESULTS=FILE        where to write the results (default
#                             bench/results/<date>-<host>-mysql[-scale-S].md)
#   BENCH_DEVICE_ROWS, BENCH_WIDE_ROWS  override one size
#   FERRYD=PATH               the ferryd binary (default build/ferryd)
#   TMPDIR                    where the temporary directory goes (needs
#                             about four times the data set size free)
set -euo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/cpu.sh
. "$repo/bench/cpu.sh"
ferryd=${FERRYD:-$repo/build/ferryd}
my_user=bench
my_password=bench-secret

tmp=""
pg_bin=""
tgt_port=""
my_port=""
my_pid=""
pg_started=0
ferry_pid=""
ferry_base=""
method_pid=""
sampler_pid=""
jobs_n=""
page_kb=$(($(getconf PAGESIZE) / 1024))

all_methods=(ferry pgloader pgloader_prefetch pipe limit_out limit_in)
pgloader_prefetch_rows=10000
declare -A label=()
set_labels() {
	label=(
		[ferry]="ferry (REST API, defaults: $jobs_n tables + $jobs_n indexes at a time, validate count)"
		[pgloader]="pgloader, workers = $((2 * jobs_n)), concurrency = 1"
		[pgloader_prefetch]="pgloader, workers = $((2 * jobs_n)), concurrency = 1, prefetch rows = $pgloader_prefetch_rows"
		[pipe]="limit: mariadb --batch piped to psql COPY, $jobs_n at a time, then indexes"
		[limit_out]="limit: MariaDB SELECT to /dev/null (data only)"
		[limit_in]="limit: PostgreSQL COPY FROM file (data only)"
	)
}

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
case $scale in
full | 1) scale=full device_rows=10000000 wide_rows=700000 ;;
small) device_rows=200000 wide_rows=14000 ;;
*)
	[[ $scale =~ ^(0|[1-9][0-9]*)?(\.[0-9]+)?$ && $scale != . && $scale != "" ]] ||
		die "BENCH_SCALE must be full, small or a positive factor (got \"$scale\")"
	read -r device_rows wide_rows < <(awk -v f="$scale" 'BEGIN { printf "%d %d\n", 10000000 * f, 700000 * f }')
	;;
esac
device_rows=${BENCH_DEVICE_ROWS:-$device_rows}
wide_rows=${BENCH_WIDE_ROWS:-$wide_rows}
repeat=${BENCH_MYSQL_REPEAT:-3}
for v in device_rows wide_rows repeat; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive whole number (got \"${!v}\")"
done

methods=()
if [ -z "${BENCH_MYSQL_METHODS:-}" ] || [ "$BENCH_MYSQL_METHODS" = all ]; then
	methods=("${all_methods[@]}")
else
	IFS=', ' read -r -a picked <<<"$BENCH_MYSQL_METHODS"
	for m in "${picked[@]}"; do
		[[ " ${all_methods[*]} " == *" $m "* ]] ||
			die "unknown method \"$m\" in BENCH_MYSQL_METHODS (known: ${all_methods[*]})"
		methods+=("$m")
	done
	[ ${#methods[@]} -gt 0 ] || die "BENCH_MYSQL_METHODS names no method"
fi
has_method() {
	local m
	for m in "${methods[@]}"; do
		if [ "$m" = "$1" ]; then return 0; fi
	done
	return 1
}

# the source tables, biggest first, and what each method reads of them
tables=(device wide)
declare -A select_sql=(
	# what mariadb --batch prints of these is COPY text (see pipe_one)
	[device]="SELECT id, device_id, ts, temperature, humidity, status, note FROM bench.device"
	[wide]="SELECT id, name, descr, body, CONCAT('\\\\x', HEX(payload)), amount, created_at, attrs FROM bench.wide"
)
declare -A my_sum_expr=(
	[device]="CONCAT_WS('|', id, device_id, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f'),
		CAST(FLOOR(temperature * 1000000) AS SIGNED), humidity, status, COALESCE(note, '~'))"
	[wide]="CONCAT_WS('|', id, name, COALESCE(descr, '~'), body, MD5(payload), amount,
		DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s'), JSON_UNQUOTE(JSON_EXTRACT(attrs, '\$.sku')))"
)
declare -A pg_sum_expr=(
	[device]="concat_ws('|', id, device_id, to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US'),
		floor(temperature * 1000000::float8)::bigint, humidity, status::text, coalesce(note, '~'))"
	[wide]="concat_ws('|', id, name, coalesce(descr, '~'), body, md5(payload), amount,
		to_char(created_at, 'YYYY-MM-DD HH24:MI:SS'), attrs::jsonb ->> 'sku')"
)
# indexes every copy must have: "primary keys/indexes" per table, primary key included
declare -A want_indexes=([device]="1/2" [wide]="1/2")

# ---------------------------------------------------------------- helpers

# Run a program as the user a server runs as, when this script runs as root.
as_user() {
	local user=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$tmp" && runuser -u "$user" -- "$@")
	else
		(cd "$tmp" && "$@")
	fi
}

uri() { printf 'postgresql://postgres@127.0.0.1:%s/%s' "$tgt_port" "$1"; }
my_uri() { printf 'mysql://%s:%s@127.0.0.1:%s/%s' "$my_user" "$my_password" "$my_port" "$1"; }

# sql DB [psql args...]: psql on the target cluster, in UTC
sql() {
	local db=$1
	shift
	PGTZ=UTC "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$tgt_port" -U postgres -d "$db" "$@"
}

# my_root [mariadb args...]: the client as root over the socket, SQL on stdin
my_root() {
	mariadb --no-defaults --protocol=socket --socket="$tmp/my/sock" --user=root \
		--default-character-set=utf8mb4 --max-allowed-packet=64M --batch "$@"
}

# my_client [mariadb args...]: the client as the bench user over TCP, as ferry and pgloader connect
my_client() {
	MYSQL_PWD=$my_password mariadb --no-defaults --protocol=tcp --host=127.0.0.1 --port="$my_port" \
		--user="$my_user" --default-character-set=utf8mb4 --max-allowed-packet=64M "$@"
}

commas() {
	local n=$1 out=""
	while [ ${#n} -gt 3 ]; do
		out=",${n: -3}$out"
		n=${n:0:${#n}-3}
	done
	printf '%s%s' "$n" "$out"
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
	local p=$1
	while port_taken "$p" || [ "$p" = "${tgt_port:-}" ]; do p=$((p + 1)); done
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

# ---------------------------------------------------------------- servers

find_pg_bin() {
	local dir
	dir=$(pg_config --bindir 2>/dev/null || true)
	if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
		dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
	fi
	pg_bin=$dir
	[ -n "$dir" ] && [ -x "$dir/initdb" ] && return 0
	die "PostgreSQL server binaries (initdb) not found; run 'make bench' as root or install postgresql"
}

check_tools() {
	local missing=() t
	for t in curl jq awk node pgloader mariadb mariadbd mariadb-install-db mariadb-admin; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] ||
		die "missing ${missing[*]}; install curl jq nodejs pgloader mariadb-server mariadb-client"
	[ -x "$ferryd" ] || die "$ferryd not found; run 'make' first"
	if [ "$(id -u)" -eq 0 ]; then
		command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is needed when running as root"
		id postgres >/dev/null 2>&1 || die "running as root needs the user \"postgres\""
		id mysql >/dev/null 2>&1 || die "running as root needs the user \"mysql\""
	fi
}

# the same settings as bench/run.sh's clusters
start_target() {
	mkdir -m 700 "$tmp/pg"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tmp/pg"; fi
	as_user postgres "$pg_bin/initdb" -D "$tmp/pg" -A trust -N -U postgres -E UTF8 --locale=C \
		>"$tmp/logs/initdb.log" 2>&1 || {
		tail -n 20 "$tmp/logs/initdb.log" >&2
		die "initdb of the target cluster failed"
	}
	cat >>"$tmp/pg/postgresql.conf" <<-EOF

		# bench cluster: loopback TCP only; the settings of bench/run.sh's clusters
		listen_addresses = '127.0.0.1'
		port = $tgt_port
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
	pg_started=1
	as_user postgres "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/logs/postgres.log" -w -t 120 start >/dev/null || {
		tail -n 20 "$tmp/logs/postgres.log" >&2
		die "the target cluster did not start"
	}
}

stop_target() {
	[ "$pg_started" = 1 ] || return 0
	as_user postgres "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast -w -t 120 stop >/dev/null 2>&1 ||
		as_user postgres "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
	pg_started=0
}

# A MariaDB server as tests/lib/mariadb.js starts one, with a buffer pool
# for this data set; as root, mariadbd drops to the user mysql itself.
start_source() {
	local deadline
	mkdir "$tmp/my"
	if [ "$(id -u)" -eq 0 ]; then chown mysql: "$tmp/my"; fi
	as_user mysql mariadb-install-db --no-defaults --datadir="$tmp/my/data" \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		>"$tmp/logs/mariadb-install-db.log" 2>&1 || {
		tail -n 20 "$tmp/logs/mariadb-install-db.log" >&2
		die "mariadb-install-db failed"
	}
	local user_opt=()
	if [ "$(id -u)" -eq 0 ]; then user_opt=(--user=mysql); fi
	(cd "$tmp/my" && exec mariadbd --no-defaults "${user_opt[@]}" --datadir="$tmp/my/data" \
		--socket="$tmp/my/sock" --pid-file="$tmp/my/mariadbd.pid" --port="$my_port" \
		--bind-address=127.0.0.1 --skip-name-resolve \
		--innodb-buffer-pool-size=1G --max-allowed-packet=64M --innodb-flush-log-at-trx-commit=2 \
		--log-bin=binlog --server-id=1 --binlog-format=ROW --default-time-zone=+00:00 \
		--character-set-server=utf8mb4 --innodb-buffer-pool-dump-at-shutdown=0 \
		--innodb-buffer-pool-load-at-startup=0) >"$tmp/logs/mariadbd.log" 2>&1 &
	my_pid=$!
	deadline=$((SECONDS + 120))
	until mariadb-admin --no-defaults --protocol=socket --socket="$tmp/my/sock" --user=root \
		--connect-timeout=2 ping >/dev/null 2>&1; do
		if ! kill -0 "$my_pid" 2>/dev/null; then
			my_pid=""
			tail -n 20 "$tmp/logs/mariadbd.log" >&2
			die "mariadbd exited during start-up"
		fi
		[ "$SECONDS" -lt "$deadline" ] || die "mariadbd did not answer within 120 s"
		sleep 0.2
	done
	my_root <<-EOF
		CREATE USER '$my_user'@'127.0.0.1' IDENTIFIED BY '$my_password';
		GRANT ALL PRIVILEGES ON *.* TO '$my_user'@'127.0.0.1';
	EOF
}

stop_source() {
	[ -n "$my_pid" ] || return 0
	kill -TERM "$my_pid" 2>/dev/null || true
	local deadline=$((SECONDS + 120))
	while kill -0 "$my_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
	if kill -0 "$my_pid" 2>/dev/null; then
		echo "bench: mariadbd (pid $my_pid) did not stop within 120 s; killing it" >&2
		kill -KILL "$my_pid" 2>/dev/null || true
	fi
	wait "$my_pid" 2>/dev/null || true
	my_pid=""
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
	if [ -n "$my_pid" ]; then
		say "stopping MariaDB"
		stop_source
	fi
	if [ "$pg_started" = 1 ]; then
		say "stopping PostgreSQL"
		stop_target
	fi
	if [ -n "${BENCH_LOGS:-}" ] && [ -n "$tmp" ] && [ -d "$tmp/logs" ]; then
		mkdir -p "$BENCH_LOGS" && cp -r "$tmp/logs/." "$BENCH_LOGS/" && say "logs kept in $BENCH_LOGS"
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		say "removing $tmp"
		rm -rf "$tmp"
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- data set

# one part of the source data set; "device.K" is the K-th slice of a million rows
gen_part() {
	local part=$1
	case $part in
	device.*)
		local k=${part#device.} lo hi
		lo=$((k * 1000000 + 1))
		hi=$(((k + 1) * 1000000))
		if [ "$hi" -gt "$device_rows" ]; then hi=$device_rows; fi
		my_root bench <<-EOF
			SET SESSION sql_log_bin = 0;
			INSERT INTO device (id, device_id, ts, temperature, humidity, status, note)
			SELECT seq,
			       1 + seq % 5000,
			       TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq * 3 SECOND
			           + INTERVAL FLOOR(RAND() * 1000000) MICROSECOND,
			       ROUND(15 + RAND() * 20 + 3 * SIN(seq / 28800), 2),
			       ROUND(20 + RAND() * 70, 2),
			       ELT(1 + (RAND() < 0.04) + (RAND() < 0.01), 'ok', 'warn', 'fail'),
			       IF(RAND() < 0.7, NULL, CONCAT('battery ', FLOOR(RAND() * 100), '% fw ', LEFT(MD5(seq), 12)))
			  FROM seq_${lo}_to_${hi};
		EOF
		;;
	wide)
		# descr: about 300 bytes, sometimes NULL, sometimes with a tab, a
		# newline, a backslash or letters beyond ASCII; body: about 340 bytes;
		# payload: 1 kB of random bytes
		my_root bench <<-EOF
			SET SESSION sql_log_bin = 0;
			INSERT INTO wide (id, name, descr, body, payload, amount, created_at, attrs)
			SELECT seq,
			       CONCAT('customer ', seq, IF(seq % 7 = 0, ' Müller-Lüdenscheidt', ''), IF(seq % 11 = 0, ' 東京', '')),
			       CASE WHEN seq % 17 = 0 THEN NULL
			            ELSE CONCAT_WS(' ', MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()),
			                           CASE seq % 5 WHEN 0 THEN 'tab\there' WHEN 1 THEN 'line\nbreak'
			                                        WHEN 2 THEN 'back\\\\slash' ELSE 'plain' END,
			                           MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND())) END,
			       REPEAT(CONCAT(LEFT(MD5(seq), 16), ' '), 20),
			       RANDOM_BYTES(1024),
			       ROUND(RAND() * 100000000, 4),
			       TIMESTAMP '2023-01-01 00:00:00' + INTERVAL seq * 3 SECOND,
			       JSON_OBJECT('sku', CONCAT('SKU-', seq % 100000), 'qty', FLOOR(RAND() * 100),
			                   'price', ROUND(RAND() * 1000, 2), 'tags', JSON_ARRAY('red', 'blue', MD5(seq)),
			                   'active', RAND() < 0.5, 'comment', CONCAT(MD5(RAND()), MD5(RAND())))
			  FROM seq_1_to_${wide_rows};
		EOF
		;;
	*) die "gen_part: unknown part $part" ;;
	esac
}

make_source() {
	local t0=$SECONDS
	say "generating the source data set in MariaDB database \"bench\" (device $(commas "$device_rows") rows, wide $(commas "$wide_rows") rows)"
	my_root <<-'EOF'
		SET SESSION sql_log_bin = 0;
		CREATE DATABASE bench;
		USE bench;
		CREATE TABLE device (
		    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		    device_id   INT NOT NULL,
		    ts          DATETIME(6) NOT NULL,
		    temperature DOUBLE NOT NULL,
		    humidity    DECIMAL(5,2) NOT NULL,
		    status      ENUM('ok','warn','fail') NOT NULL,
		    note        VARCHAR(64) NULL
		) ENGINE=InnoDB;
		CREATE TABLE wide (
		    id          BIGINT NOT NULL PRIMARY KEY,
		    name        VARCHAR(100) NOT NULL,
		    descr       TEXT NULL,
		    body        TEXT NOT NULL,
		    payload     BLOB NULL,
		    amount      DECIMAL(18,4) NOT NULL,
		    created_at  DATETIME NOT NULL,
		    attrs       JSON NULL
		) ENGINE=InnoDB;
	EOF
	# two at a time: wide beside the slices of device, one after the other
	# (one INSERT into a table with an AUTO_INCREMENT column at a time)
	run_each 2 gen_one wide device || die "generating the data set failed"
	# the secondary indexes are built once the rows are in, as a dump's restore does
	my_root bench >/dev/null <<-'EOF'
		SET SESSION sql_log_bin = 0;
		ALTER TABLE device ADD INDEX device_device_ts (device_id, ts);
		ALTER TABLE wide ADD INDEX wide_created_at (created_at);
		ANALYZE TABLE device, wide;
	EOF
	printf '    done in %d s\n' $((SECONDS - t0))

	mkdir -p "$tmp/check"
	run_each 2 my_check_one "${tables[@]}" || die "the source checksums failed"
	local t
	for t in "${tables[@]}"; do cat "$tmp/check/src.$t"; done >"$tmp/check.src"
	total_rows=$(awk -F '\t' '{ s += $2 } END { printf "%d", s }' "$tmp/check.src")
	data_bytes=$(my_root -N -e "SELECT SUM(DATA_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench'")
	index_bytes=$(my_root -N -e "SELECT SUM(INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench'")
	dataset_lines=()
	local n d i
	for t in "${tables[@]}"; do
		n=$(awk -F '\t' -v t="bench.$t" '$1 == t { print $2 }' "$tmp/check.src")
		read -r d i < <(my_root -N -e "SELECT DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = 'bench' AND TABLE_NAME = '$t'")
		dataset_lines+=("$(printf '| bench.%s | %s | %s MB + %s MB indexes |' "$t" "$(commas "$n")" \
			"$(awk -v b="$d" 'BEGIN { printf "%.0f", b / 1e6 }')" "$(awk -v b="$i" 'BEGIN { printf "%.0f", b / 1e6 }')")")
	done
	printf '%s\n' "${dataset_lines[@]}" | sed 's/^/    /'
	printf '    table data %s MB (InnoDB DATA_LENGTH), indexes %s MB, %s rows\n' \
		"$(awk -v b="$data_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')" \
		"$(awk -v b="$index_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')" "$(commas "$total_rows")"
	if [ "$scale" = full ] && [ "$data_bytes" -lt 1000000000 ]; then
		loud "the full data set holds only $data_bytes bytes of table data (wanted >= 1 GB)"
	fi
}

gen_one() {
	local k
	if [ "$1" = wide ]; then
		gen_part wide
		return
	fi
	for ((k = 0; k * 1000000 < device_rows; k++)); do gen_part "device.$k"; done
}

# the COPY text files the "COPY FROM file" limit reads, written once
write_files() {
	has_method limit_in || return 0
	local t0=$SECONDS t
	printf '    writing what the SELECTs print to files, for the COPY FROM file limit ... '
	mkdir "$tmp/files"
	for t in "${tables[@]}"; do
		my_client --quick --batch --skip-column-names -e "${select_sql[$t]}" >"$tmp/files/$t.txt"
	done
	if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$tmp/files"; fi
	printf '%s MB in %d s\n' "$(du -sm "$tmp/files" | cut -f1)" $((SECONDS - t0))
}

# ---------------------------------------------------------------- checks

my_check_one() {
	local t=$1 out
	out=$(my_root -N -e "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(${my_sum_expr[$t]}), 8), 16, 10) AS UNSIGNED)), 0)
		FROM bench.$t" 2>&1) || out="error: ${out//$'\n'/ }"
	printf 'bench.%s\t%s\n' "$t" "$out" >"$tmp/check/src.$t"
}

pg_check_one() {
	local t=$1 out
	out=$(sql tgt -At -F $'\t' -c "SELECT count(*),
		coalesce(sum(('x' || left(md5(${pg_sum_expr[$t]}), 8))::bit(32)::bigint), 0) FROM bench.$t" 2>&1) ||
		out="error: ${out//$'\n'/ }"
	printf 'bench.%s\t%s\n' "$t" "$out" >"$tmp/check/tgt.$t"
}

# "table<TAB>primary keys/indexes" of the target's copies
index_sig() {
	local t
	for t in "${tables[@]}"; do
		printf 'bench.%s\t%s\n' "$t" "$(sql tgt -At -c "SELECT count(*) FILTER (WHERE indisprimary) || '/' || count(*)
			FROM pg_index WHERE indrelid = to_regclass('bench.$t')" 2>&1 | tr '\n' ' ')"
	done
}

# verify METHOD: true when the target equals the source; sets verify_note
# and verify_detail (the differences)
verify() {
	local m=$1 bad=0 t
	verify_note="rows+checksums" verify_detail=""
	rm -f "$tmp/check/tgt".*
	run_each "$jobs_n" pg_check_one "${tables[@]}" || true
	for t in "${tables[@]}"; do cat "$tmp/check/tgt.$t"; done >"$tmp/check.tgt"
	if ! cmp -s "$tmp/check.src" "$tmp/check.tgt"; then
		bad=1 verify_note="DATA MISMATCH"
		verify_detail=$(printf '%s\n' "table, rows, checksum: source (<) against target (>)"
			diff "$tmp/check.src" "$tmp/check.tgt" | grep '^[<>]' || true)
	fi
	if [ "$m" != limit_in ]; then
		index_sig >"$tmp/index.tgt"
		for t in "${tables[@]}"; do printf 'bench.%s\t%s \n' "$t" "${want_indexes[$t]}"; done >"$tmp/index.want"
		if cmp -s "$tmp/index.want" "$tmp/index.tgt"; then
			verify_note+=", primary keys+indexes"
		else
			if [ "$bad" = 1 ]; then verify_note+=", INDEX MISMATCH"; else verify_note="INDEX MISMATCH"; fi
			bad=1
			if [ -n "$verify_detail" ]; then verify_detail+=$'\n'; fi
			verify_detail+=$(printf '%s\n' "table, primary keys/indexes: wanted (<) against target (>)"
				diff "$tmp/index.want" "$tmp/index.tgt" | grep '^[<>]' || true)
		fi
	fi
	return "$bad"
}

# the target's column types, one line per table, kept from each method's first copy
column_types() {
	sql tgt -At -c "SELECT table_name || ': ' || string_agg(column_name || ' ' ||
		CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END ||
		coalesce('(' || character_maximum_length || ')', '') ||
		CASE WHEN data_type = 'numeric' THEN coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '') ELSE '' END ||
		CASE WHEN is_identity = 'YES' THEN ' identity' WHEN column_default LIKE 'nextval%' THEN ' serial' ELSE '' END,
		', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = 'bench' GROUP BY table_name ORDER BY table_name" 2>/dev/null || true
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

# ferryd with its defaults (workers: the number of cores, at least 2)
start_ferryd() {
	local port="" deadline
	# its worker threads, the timeline's slots: ferryd's default, the cores (at least 2)
	ferry_workers=$(getconf _NPROCESSORS_ONLN)
	if [ "$ferry_workers" -lt 2 ]; then ferry_workers=2; fi
	: >"$tmp/logs/ferryd.log.cur"
	"$ferryd" --meta "$(uri ferry_meta)" --listen 127.0.0.1:0 >>"$tmp/logs/ferryd.log.cur" 2>&1 &
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

# The job, as a user would write it: everything of the source database,
# ferry's defaults but for the mode and a row count check. Its JSON as
# ferryd stored it goes to $tmp/job.json.
create_job() {
	local body answer
	body=$(jq -n --arg src "$(my_uri bench)" --arg dst "$(uri tgt)" '{
		name: "bench-mysql", source: {dsn: $src}, target: {dsn: $dst}, include: ["bench.*"],
		load: {mode: "drop", validate: "count"}}')
	answer=$(api POST /api/v1/jobs "$body" 2>&1) || die "ferryd refused the job: $answer"
	api GET /api/v1/jobs/bench-mysql >"$tmp/job.json" || die "could not read the job back"
	jobs_n=$(jq -r '.load.parallel' "$tmp/job.json")
	[[ $jobs_n =~ ^[1-9][0-9]*$ ]] || die "the job has no load.parallel: $(cat "$tmp/job.json")"
	index_n=$(jq -r '.load.index_parallel' "$tmp/job.json")
}

# ---------------------------------------------------------------- methods
# Each runs in the background, its output going to a log; the time from its
# start to its end is the method's time.

m_ferry() {
	local run id
	run=$(api POST /api/v1/jobs/bench-mysql/runs) || {
		echo "trigger refused: $run"
		return 1
	}
	id=$(jq -r .id <<<"$run")
	echo "run $id"
	node "$repo/bench/poll.js" --slots "$ferry_workers" "$ferry_base" "$id"
}

# pgloader_command [PREFETCH_ROWS]: the command file, pgloader's defaults
# spelled out but for workers and concurrency (and prefetch rows, if given)
pgloader_command() {
	cat <<-EOF
		LOAD DATABASE
		     FROM $(my_uri bench)
		     INTO $(uri tgt)
		 WITH include drop, create tables, create indexes, reset sequences, foreign keys,
		      workers = $((2 * jobs_n)), concurrency = 1${1:+, prefetch rows = $1}
		  SET MySQL PARAMETERS
		      net_read_timeout = '600', net_write_timeout = '600';
	EOF
}

m_pgloader_prefetch() { m_pgloader "$pgloader_prefetch_rows"; }

m_pgloader() {
	rm -rf "$tmp/pgloader"
	mkdir -p "$tmp/pgloader"
	pgloader_command "${1:-}" >"$tmp/pgloader/bench.load"
	local rc=0
	pgloader --root-dir "$tmp/pgloader" --logfile "$tmp/pgloader/pgloader.log" \
		--summary "$tmp/pgloader/summary.txt" "$tmp/pgloader/bench.load" || rc=$?
	cat "$tmp/pgloader/summary.txt" 2>/dev/null || true
	return "$rc"
}

# The target tables as ferry makes them from these MySQL columns, without
# their primary keys and indexes.
limit_ddl() {
	cat <<-'EOF'
		SET client_min_messages = warning;
		CREATE SCHEMA bench;
		CREATE TYPE bench.device_status AS ENUM ('ok', 'warn', 'fail');
		CREATE TABLE bench.device (
		    id          bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY,
		    device_id   integer NOT NULL,
		    ts          timestamp(6) without time zone NOT NULL,
		    temperature double precision NOT NULL,
		    humidity    numeric(5,2) NOT NULL,
		    status      bench.device_status NOT NULL,
		    note        varchar(64)
		);
		CREATE TABLE bench.wide (
		    id          bigint NOT NULL,
		    name        varchar(100) NOT NULL,
		    descr       text,
		    body        text NOT NULL,
		    payload     bytea,
		    amount      numeric(18,4) NOT NULL,
		    created_at  timestamp(0) without time zone NOT NULL,
		    attrs       jsonb
		);
	EOF
}

# the primary keys and indexes, built index_n at a time after the data
limit_indexes=(
	"ALTER TABLE bench.device ADD PRIMARY KEY (id)"
	"CREATE INDEX device_device_ts ON bench.device (device_id, ts)"
	"ALTER TABLE bench.wide ADD PRIMARY KEY (id)"
	"CREATE INDEX wide_created_at ON bench.wide (created_at)"
)

# mariadb --batch escapes tab, newline, backslash and NUL as COPY text does,
# and prints SQL NULL as the word NULL, which COPY reads as NULL with the
# option below (no value of this data set is the text 'NULL'); the BLOB
# goes as '\x' and its hex digits, bytea's input format. A value holding a
# carriage return would need more (the client leaves it as it is).
pipe_one() {
	my_client --quick --batch --skip-column-names -e "${select_sql[$1]}" |
		sql tgt -c "COPY bench.$1 FROM STDIN (NULL 'NULL')"
}

index_one() { sql tgt -c "$1"; }

m_pipe() {
	limit_ddl | sql tgt
	run_each "$jobs_n" pipe_one "${tables[@]}"
	run_each "$index_n" index_one "${limit_indexes[@]}"
	sql tgt -At -c "SELECT setval(pg_get_serial_sequence('bench.device', 'id'), max(id)) FROM bench.device" >/dev/null
}

out_one() { my_client --quick --batch --skip-column-names -e "${select_sql[$1]}" >/dev/null; }

m_limit_out() { run_each "$jobs_n" out_one "${tables[@]}"; }

in_one() { sql tgt -c "COPY bench.$1 FROM '$tmp/files/$1.txt' (NULL 'NULL')"; }

m_limit_in() { run_each "$jobs_n" in_one "${tables[@]}"; }

# ---------------------------------------------------------------- one timing

prepare_target() {
	sql postgres -c 'SET client_min_messages = warning' \
		-c 'DROP DATABASE IF EXISTS tgt WITH (FORCE)' -c 'CREATE DATABASE tgt'
	sql postgres -c CHECKPOINT
}

# One hand-made copy before the rounds, not timed: a fresh cluster writes
# its first WAL into new files, later copies reuse them (see bench/run.sh).
warm_up() {
	local t0=$EPOCHREALTIME
	printf '    warm-up: one pipe copy, not timed ... '
	prepare_target
	m_pipe >"$tmp/logs/warm-up.log" 2>&1 || die "the warm-up copy failed: $(tail -n 20 "$tmp/logs/warm-up.log")"
	printf '%.1f s\n' "$(elapsed "$t0" "$EPOCHREALTIME")"
}

# time_method METHOD ROUND: one timed copy, checked, appended to results.tsv
time_method() {
	local m=$1 r=$2 log="$tmp/logs/$1.$2.log" t0 t1 c0 c1 cpu rc=0 secs rss hwm valid=yes note
	local cpu_src cpu_tgt cpu_tool pg_pid
	prepare_target
	pg_pid=$(head -n 1 "$tmp/pg/postmaster.pid")
	if [ "$m" = ferry ]; then start_ferryd; fi
	if [ "$m" = limit_in ]; then limit_ddl | sql tgt >/dev/null; fi
	printf '    round %s  %-72s ' "$r" "${label[$m]}"
	t0=$EPOCHREALTIME
	c0=$(cpu_read "$my_pid" "$pg_pid" "$(if [ "$m" = ferry ]; then echo "$ferry_pid"; fi)")
	"m_$m" >"$log" 2>&1 &
	method_pid=$!
	case $m in
	ferry) sampler "$method_pid" "$ferry_pid" '^ferryd$' "$tmp/rss" & ;;
	pgloader*) sampler "$method_pid" "$method_pid" '^pgloader$' "$tmp/rss" & ;;
	*) sampler "$method_pid" "$method_pid" '^(mariadb|psql)$' "$tmp/rss" & ;;
	esac
	sampler_pid=$!
	wait "$method_pid" || rc=$?
	t1=$EPOCHREALTIME
	c1=$(cpu_read "$my_pid" "$pg_pid" "$(if [ "$m" = ferry ]; then echo "$ferry_pid"; fi)")
	method_pid=""
	wait "$sampler_pid" || true
	sampler_pid=""
	rss=$(cat "$tmp/rss")
	if [ "$m" = ferry ]; then
		hwm=$(vm_hwm "$ferry_pid")
		if [ "${hwm:-0}" -gt "$rss" ]; then rss=$hwm; fi
		stop_ferryd
	fi
	secs=$(elapsed "$t0" "$t1")
	# what the machine, MariaDB and PostgreSQL (ferryd's metadata database
	# included) spent, and ferryd (other methods: the rest of the machine,
	# their clients and the kernel)
	read -r cpu cpu_src cpu_tgt cpu_tool < <(cpu_split "$c0" "$c1")
	printf '%8.1f s  %7.1f MB RSS  %6.1f CPU s (MariaDB %s, PostgreSQL %s, %s %s)  ' "$secs" \
		"$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$cpu" "$cpu_src" "$cpu_tgt" \
		"$(if [ "$m" = ferry ]; then echo ferryd; else echo rest; fi)" "$cpu_tool"
	if [ "$rc" -ne 0 ]; then
		valid=no note="FAILED (exit status $rc)"
		echo "$note"
		loud "${label[$m]} FAILED in round $r (exit status $rc); last lines of its output:" "$(tail -n 25 "$log")"
		if [ "$m" = ferry ]; then tail -n 25 "$tmp/logs/ferryd.log" >&2 || true; fi
		if [ ! -e "$tmp/failure.$m" ]; then
			{
				printf 'round %s, exit status %s; the last lines of its output:\n\n' "$r" "$rc"
				tail -n 40 "$log"
			} >"$tmp/failure.$m"
		fi
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
		if [ ! -e "$tmp/failure.$m" ]; then
			printf 'round %s: %s\n\n%s\n' "$r" "$note" "$verify_detail" >"$tmp/failure.$m"
		fi
	fi
	if [ "$m" != limit_out ] && [ ! -e "$tmp/types.$m" ]; then column_types >"$tmp/types.$m"; fi
	if [ "$m" = ferry ]; then ferry_run_times "$log" "$r"; fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$r" "$secs" "$rss" "$valid" "$note" "$cpu" \
		"$cpu_src" "$cpu_tgt" "$cpu_tool" >>"$tmp/results.tsv"
}

# From a ferry run's log (poll.js: the run, then its events): the run's
# elapsed_ms as ferryd measured it, and the seconds from its start to the
# end of the last table's data (the rest: indexes, sequences, the end).
ferry_run_times() {
	local ms data
	ms=$(sed -n '2p' "$1" | jq -r '.elapsed_ms // empty' 2>/dev/null || true)
	data=$(awk '$3 == "run:" && / run started / { s = $1 } / loaded [0-9]+ rows / { e = $1 }
		END { if (s != "" && e != "") print s "\t" e }' "$1" |
		while IFS=$'\t' read -r s e; do
			sql postgres -At -c "SELECT round(extract(epoch FROM timestamptz '$e' - timestamptz '$s'), 1)"
		done || true)
	printf '%s\t%s\t%s\n' "$2" "${ms:-}" "${data:-}" >>"$tmp/ferry-runs.tsv"
}

# ---------------------------------------------------------------- report

machine_info() {
	cores=$(nproc)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	pg_version=$(sql postgres -At -c 'SHOW server_version')
	my_version=$(mariadbd --version | sed 's/^.*Ver //')
	pgloader_version=$(pgloader --version 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')
	ferry_version=$("$ferryd" --version 2>/dev/null | head -n 1 || true)
	commit="git $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	if [ -n "$(git -C "$repo" status --porcelain -- core server 2>/dev/null)" ]; then
		commit+=" with uncommitted changes in core/ or server/"
	fi
	if [ -n "${FERRYD:-}" ]; then
		# what the repository held when the run began, not necessarily what the binary was built from
		commit="binary $FERRYD of $(date -u -r "$FERRYD" '+%Y-%m-%d %H:%M UTC'); the repository at $commit"
	fi
}

awk_median='
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}'

labels_tsv() { for m in "${methods[@]}"; do printf '%s\t%s\n' "$m" "${label[$m]}"; done; }

summary_table() {
	awk -F '\t' -v bytes="$data_bytes" -v rows="$total_rows" "$awk_median"'
		NR == FNR { order[++k] = $1; lab[$1] = $2; next }
		{
			n[$1]++
			if ($5 == "yes") ok[$1]++
			if ($6 !~ /^FAILED/) { t[$1] = t[$1] " " $3; ran[$1]++ }
			if ($4 > rss[$1]) rss[$1] = $4
		}
		END {
			if (ran["ferry"]) fm = median(t["ferry"])
			print "| method | median s | MB/s | rows/s | peak RSS MB | time / ferry | valid runs |"
			print "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
			for (i = 1; i <= k; i++) {
				m = order[i]
				if (!n[m]) continue
				valid = sprintf("%d/%d%s", ok[m], n[m], (ok[m] == n[m] ? "" : " INVALID"))
				if (!ran[m]) {
					printf "| %s | failed | | | %.1f | | %s |\n", lab[m], rss[m] / 1024, valid
					continue
				}
				md = median(t[m])
				printf "| %s | %.1f | %.1f | %.0f | %.1f | %s | %s |\n", lab[m], md, bytes / 1e6 / md,
				       rows / md, rss[m] / 1024, (fm > 0 ? sprintf("%.2f", md / fm) : "n/a"), valid
			}
		}' <(labels_tsv) "$tmp/results.tsv"
}

# median seconds of a method; empty when it has no runs or an invalid one
median_of() {
	awk -F '\t' -v m="$1" "$awk_median"'
		$1 == m { list = list " " $3; n++; if ($5 != "yes") bad = 1 }
		END { if (n && !bad) printf "%.3f", median(list) }' "$tmp/results.tsv"
}

round_ratios() {
	awk -F '\t' -v m="$1" "$awk_median"'
		$1 == "ferry" { f[$2] = $3 }
		$1 == m { o[$2] = $3 }
		$2 > last { last = $2 }
		END {
			for (r = 1; r <= last; r++)
				if (r in f && r in o) {
					x = f[r] / o[r]
					shown = shown sprintf("%s%.2f", n++ ? ", " : "", x)
					list = list " " x
				}
			if (n >= 2)
				printf "  - the same, round by round: %s; median %.2f x (not judged)\n", shown, median(list)
		}' "$tmp/results.tsv"
}

# why a method's runs cannot be judged, in a few words
not_judged_why() {
	local m=$1 failed bad total why
	read -r failed bad total < <(awk -F '\t' -v m="$1" '$1 == m { n++; if ($6 ~ /^FAILED/) f++; else if ($5 != "yes") b++ }
		END { print f + 0, b + 0, n + 0 }' "$tmp/results.tsv")
	why=""
	if [ "$failed" -gt 0 ]; then
		why="$failed of $total $m runs failed"
		local first
		first=$(grep -m 1 -E 'Heap exhausted|ERROR|FATAL|error:' "$tmp/failure.$m" 2>/dev/null | cut -c1-160 || true)
		if [ -n "$first" ]; then why+=": $first"; fi
	fi
	if [ "$bad" -gt 0 ]; then
		why+="${why:+; }$bad of $total $m runs did not match the source"
	fi
	printf '%s' "$why"
}

targets() {
	local f other ratio m want verdict
	printf '## Targets\n\n'
	f=$(median_of ferry)
	for m in pgloader:0.3 pgloader_prefetch:0.3 pipe:1.0; do
		want=${m#*:} m=${m%%:*}
		if ! has_method ferry || ! has_method "$m"; then
			printf -- '- ferry <= %s x %s: not measured\n' "$want" "${label[$m]}"
			continue
		fi
		other=$(median_of "$m")
		if [ -z "$f" ] || [ -z "$other" ]; then
			printf -- '- ferry <= %s x %s: NOT JUDGED (%s)\n' "$want" "${label[$m]}" \
				"$(not_judged_why "$([ -z "$f" ] && echo ferry || echo "$m")")"
		else
			ratio=$(awk -v a="$f" -v b="$other" 'BEGIN { printf "%.2f", a / b }')
			verdict=$(awk -v r="$ratio" -v w="$want" 'BEGIN { print (r <= w ? "MET" : "MISSED") }')
			printf -- '- ferry <= %s x %s: %.1f s / %.1f s = %s x -> **%s**\n' "$want" "${label[$m]}" "$f" "$other" "$ratio" "$verdict"
			round_ratios "$m"
		fi
	done
	if has_method ferry; then
		local peak
		peak=$(awk -F '\t' '$1 == "ferry" && $4 > p { p = $4 } END { printf "%d", p }' "$tmp/results.tsv")
		printf -- '- ferryd peak RSS <= 64 MB: %.1f MB -> **%s**\n' "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')" \
			"$(awk -v k="$peak" 'BEGIN { print (k / 1024 <= 64 ? "MET" : "MISSED") }')"
	fi
}

report() {
	local out=$1 m
	{
		printf '# ferry benchmark, MariaDB source, %s on %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(hostname)"
		printf -- '- machine: %s cores (%s), %s memory, %s\n' "$cores" "$cpu" "$mem" "$(uname -sr)"
		printf -- '- source: MariaDB %s (127.0.0.1, buffer pool 1 GB, binary log on, innodb_flush_log_at_trx_commit 2)\n' "$my_version"
		printf -- '- target: PostgreSQL %s (127.0.0.1, the settings of bench/run.sh, fsync on; it also holds ferryd'"'"'s metadata database)\n' "$pg_version"
		printf -- '- %s; %s (%s)\n' "$pgloader_version" "$ferry_version" "$commit"
		printf -- '- load average before / after: %s / %s\n' "$load_before" "$load_after"
		if [ -n "${BENCH_NOTE:-}" ]; then printf -- '- note: %s\n' "$BENCH_NOTE"; fi
		printf -- '- data set (scale %s): %s MB of table data (InnoDB DATA_LENGTH), %s MB of indexes, %s rows:\n\n' \
			"$scale" "$(awk -v b="$data_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')" \
			"$(awk -v b="$index_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')" "$(commas "$total_rows")"
		printf '| table | rows | size |\n| --- | ---: | --- |\n'
		printf '%s\n' "${dataset_lines[@]}"
		printf '\n- %s round(s); every round runs each method once, the order rotated by one each round, into\n' "$repeat"
		printf '  an empty database; N = %s, the load.parallel ferry gave the job by default (index_parallel %s):\n' "$jobs_n" "$index_n"
		printf '  the other methods copy N tables at a time and build N indexes at a time. The time covers\n'
		printf '  schema, data, primary keys and indexes (the two limits: data only); ferry'"'"'s, from the trigger\n'
		printf '  to the end of the run as the API client saw it, includes its row count check. MB/s is the\n'
		printf '  source'"'"'s table data MB (10^6 bytes) / median s; peak RSS is the largest over the rounds (ferry:\n'
		printf '  ferryd alone; the others: the sum over their client processes, not the servers)\n'
		printf -- '- the check after every copy: row count and checksum per table, computed alike by both servers\n'
		printf '  (the sum of the first 32 bits of md5 over the columns: device: id, device_id, ts to the\n'
		printf '  microsecond, floor(temperature * 10^6), humidity, status, note; wide: id, name, descr, body,\n'
		printf '  md5(payload), amount, created_at, attrs'"'"' "sku"), and a primary key plus one more index per table\n\n'
		summary_table
		printf '\n'
		targets
		if compgen -G "$tmp/failure.*" >/dev/null; then
			printf '\n## Failures\n'
			for m in "${methods[@]}"; do
				[ -e "$tmp/failure.$m" ] || continue
				printf '\n%s, the first failure:\n\n```\n' "${label[$m]}"
				cat "$tmp/failure.$m"
				if [ -n "$(tail -c 1 "$tmp/failure.$m")" ]; then echo; fi
				printf '```\n'
			done
		fi
		printf '\n## Target column types, as each method made them\n\n'
		for m in "${methods[@]}"; do
			[ -s "$tmp/types.$m" ] || continue
			printf -- '- %s:\n' "$m"
			sed 's/^/  - /' "$tmp/types.$m"
		done
		if has_method pgloader || has_method pgloader_prefetch; then
			printf '\npgloader'"'"'s command file (the passwords as they were; pgloader_prefetch adds\n'
			printf '"prefetch rows = %s" to the WITH clause):\n\n```\n' "$pgloader_prefetch_rows"
			pgloader_command
			printf '```\n'
		fi
		if [ -s "$tmp/ferry-runs.tsv" ]; then
			printf '\nferry'"'"'s runs as ferryd timed them (elapsed_ms; of which the data, from the run'"'"'s start to the\n'
			printf 'last table loaded, validation included):'
			awk -F '\t' '{ printf "%s round %s: %.1f s (data %s s)", (NR > 1 ? ";" : ""), $1, $2 / 1000, ($3 == "" ? "?" : $3) }
				END { print "" }' "$tmp/ferry-runs.tsv"
		fi
		printf '\n## Every run\n\nCPU s: what the whole machine spent (both servers, the tool, the kernel) while the method ran;\n'
		printf 'of it, MariaDB, PostgreSQL (ferryd'"'"'s metadata database included), and ferryd (for the other\n'
		printf 'methods: the rest, their clients and the kernel). Two cores give at most twice the seconds.\n\n'
		printf '| round | method | seconds | CPU s | MariaDB | PostgreSQL | ferryd / rest | peak RSS MB | check |\n'
		printf '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
		awk -F '\t' 'NR == FNR { lab[$1] = $2; next }
			{ printf "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s |\n", $2, lab[$1], $3, $7, $8, $9, $10,
				$4 / 1024, ($5 == "yes" ? "" : "INVALID: ") $6 }' \
			<(labels_tsv) "$tmp/results.tsv"
		local r line printed=0
		for ((r = 1; r <= repeat; r++)); do
			line=$(sed -n 's/^timeline: //p' "$tmp/logs/ferry.$r.log" 2>/dev/null | tail -n 1)
			[ -n "$line" ] || continue
			if [ "$printed" = 0 ]; then
				printed=1
				printf '\n## Where ferry'"'"'s time went\n\n'
				printf 'From each run'"'"'s events: its copies (a table read in parts counts each part) and post-load\n'
				printf 'steps, and the idle slot seconds, while fewer of them ran at once than ferryd has workers.\n\n'
			fi
			printf -- '- round %s: %s\n' "$r" "$line"
		done
	} >"$out"
}

# ---------------------------------------------------------------- main

main() {
	check_tools
	find_pg_bin
	local v
	for v in $(compgen -e); do
		if [[ $v == PG* || $v == MYSQL* || $v == MARIADB* ]]; then unset "$v"; fi
	done

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-mysql.XXXXXX")
	chmod 755 "$tmp"
	mkdir "$tmp/logs" "$tmp/sock"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tmp/sock"; chmod 777 "$tmp/logs"; fi
	say "working in $tmp"
	cp "$ferryd" "$tmp/ferryd"
	ferryd=$tmp/ferryd

	local need avail
	need=$(awk -v d="$device_rows" -v w="$wide_rows" 'BEGIN { printf "%d", (d * 130 + w * 2200) * 4 / 1048576 }')
	avail=$(df -Pm "$tmp" | awk 'NR == 2 { print $4 }')
	[ "$avail" -ge "$need" ] || die "$tmp has $avail MB free; this data set needs about $need MB"

	tgt_port=$(free_port 55432)
	my_port=$(free_port $((tgt_port + 1)))
	say "starting PostgreSQL $("$pg_bin/postgres" --version | sed 's/.*) \([0-9.]*\).*/\1/') (127.0.0.1:$tgt_port) and MariaDB $(mariadbd --version | sed 's/.*Ver \([^ ]*\).*/\1/') (127.0.0.1:$my_port)"
	start_target
	start_source
	sql postgres -c 'CREATE DATABASE ferry_meta'
	sql postgres -c 'CREATE DATABASE tgt'

	make_source
	start_ferryd
	create_job
	stop_ferryd
	set_labels
	say "ferry's job: load.parallel $jobs_n, index_parallel $index_n (its defaults); every method works $jobs_n at a time"
	write_files
	machine_info
	load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)

	: >"$tmp/results.tsv"
	: >"$tmp/ferry-runs.tsv"
	local r i n=${#methods[@]}
	warm_up
	for ((r = 1; r <= repeat; r++)); do
		say "round $r of $repeat"
		for ((i = 0; i < n; i++)); do
			time_method "${methods[$(((i + r - 1) % n))]}" "$r"
		done
	done
	load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)

	local out=${BENCH_RESULTS:-}
	if [ -z "$out" ]; then
		out="$repo/bench/results/$(date '+%Y-%m-%d')-$(hostname -s)-mysql"
		if [ "$scale" != full ]; then out+="-scale-$scale"; fi
		out+=.md
	fi
	mkdir -p "$(dirname "$out")"
	report "$out"
	echo
	sed -n '/^| method /,/^$/p' "$out"
	awk '/^## / { on = ($0 == "## Targets") } on' "$out"
	say "results written to $out"
	# pgloader failing is a finding, written into the results; ferry or the
	# hand-made copies failing makes the measure itself wrong
	if awk -F '\t' '$5 != "yes" && $1 !~ /^pgloader/ { bad = 1 } END { exit !bad }' "$tmp/results.tsv"; then
		loud "at least one copy by ferry or by hand failed or did not match the source; see above"
		return 1
	fi
	if awk -F '\t' '$5 != "yes" { bad = 1 } END { exit !bad }' "$tmp/results.tsv"; then
		loud "pgloader failed or did not match the source (see the results file); the exit status stays 0"
	fi
}

dataset_lines=()
data_bytes=0
index_bytes=0
index_n=""
total_rows=0
load_before=""
load_after=""
verify_note=""
verify_detail=""
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
main "$@"

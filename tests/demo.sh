#!/usr/bin/env bash
# tests/demo.sh: migrate a sample sensor database through ferryd's REST API and
# print a per-table report.
#
# Everything lives in a fresh temporary directory that is removed on exit:
#   * a throwaway PostgreSQL cluster (private unix socket, no TCP) holding the
#     source database "sensors" -- about 400,000 environmental-sensor readings
#     plus a few small tables -- and an empty target database "warehouse";
#   * ferryd with its embedded metadata database.
# The job "sensors-to-warehouse" is created, planned and run with curl; the
# run's progress is printed while it loads, then a report. ferryd keeps
# serving (status page and API) until Ctrl-C.
#
# Environment:
#   DEMO_EXIT=1   stop everything right after the report; the exit status is 0
#                 only when the run succeeded
#   DEMO_PORT=N   HTTP port to serve on (default 8080; when it is taken ferryd
#                 picks a free one)
#   DEMO_ROWS=N   sensor readings to generate (default 400000)
#   FERRYD=PATH   the ferryd binary (default build/ferryd)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
ferryd=${FERRYD:-$repo/build/ferryd}
rows_wanted=${DEMO_ROWS:-400000}
job=sensors-to-warehouse
run_timeout_s=600

tmp=""
pg_bin=""
sock=""
ferry_pid=""
cluster_started=""
base=""

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# Run a PostgreSQL server program; as root, as the user "postgres".
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$tmp" && runuser -u postgres -- "$@")
	else
		(cd "$tmp" && "$@")
	fi
}

# psql on the sample cluster: sql DATABASE [psql args...]
sql() {
	local db=$1
	shift
	"$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p 5432 -U postgres -d "$db" "$@"
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

# 123456789 -> 117.7 MiB
human() {
	awk -v b="$1" 'BEGIN {
		split("B KiB MiB GiB TiB", u, " ")
		i = 1
		while (b >= 1024 && i < 5) { b /= 1024; i++ }
		printf(i == 1 ? "%d %s" : "%.1f %s", b, u[i])
	}'
}

# api METHOD PATH [JSON]: print the response body; fail unless the status is 2xx.
api() {
	local method=$1 path=$2 body=${3-} code
	local args=(-sS -X "$method" -o "$tmp/response" -w '%{http_code}' --max-time 60)
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$body")
	fi
	code=$(curl "${args[@]}" "$base$path") || die "$method $path: no answer from ferryd"
	if [[ $code != 2* ]]; then
		printf 'demo: %s %s answered %s:\n' "$method" "$path" "$code" >&2
		cat "$tmp/response" >&2
		exit 1
	fi
	cat "$tmp/response"
}

show_log_tail() {
	local file=$1 what=$2
	if [ -s "$file" ]; then
		printf -- '--- last lines of %s (%s) ---\n' "$what" "$file" >&2
		tail -n 25 "$file" >&2
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

cleanup() {
	local rc=$?
	trap '' INT TERM
	if [ -n "$ferry_pid" ] && kill -0 "$ferry_pid" 2>/dev/null; then
		say "stopping ferryd (pid $ferry_pid)"
		kill -TERM "$ferry_pid" 2>/dev/null || true
		if ! wait_gone "$ferry_pid" 60; then
			echo "demo: ferryd did not stop within 60 s; killing it" >&2
			kill -KILL "$ferry_pid" 2>/dev/null || true
		fi
		wait "$ferry_pid" 2>/dev/null || true
	fi
	# a metadata server that ferryd could not stop itself
	if [ -n "$tmp" ] && [ -f "$tmp/ferry/pg/postmaster.pid" ]; then
		echo "demo: ferryd left its metadata PostgreSQL running; stopping it" >&2
		as_pg "$pg_bin/pg_ctl" -D "$tmp/ferry/pg" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -n "$cluster_started" ]; then
		say "stopping the sample PostgreSQL cluster"
		as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		say "removing $tmp"
		rm -rf "$tmp"
	fi
	exit "$rc"
}

check_tools() {
	local missing=() t
	for t in curl jq; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}; run 'make deps' (as root) or install them"
	[ -x "$ferryd" ] || die "$ferryd not found; run 'make' first"
	if [ "$(id -u)" -eq 0 ]; then
		command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is needed when running as root"
		id postgres >/dev/null 2>&1 ||
			die "running as root needs the user \"postgres\" (apt-get install postgresql creates it)"
	fi
	if ! [[ $rows_wanted =~ ^[0-9]+$ ]] || [ "$rows_wanted" -lt 3 ]; then
		die "DEMO_ROWS must be a whole number of at least 3"
	fi
}

find_pg_bin() {
	local dir
	dir=$(pg_config --bindir 2>/dev/null || true)
	if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
		dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null |
			sort -V | tail -n 1)
	fi
	if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
		dir=/usr/lib/postgresql/15/bin
	fi
	if [ ! -x "$dir/initdb" ] || [ ! -x "$dir/pg_ctl" ] || [ ! -x "$dir/psql" ]; then
		die "PostgreSQL server binaries not found; run 'make deps' (as root) or install postgresql"
	fi
	pg_bin=$dir
}

start_cluster() {
	sock=$tmp/sock
	mkdir "$sock"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$tmp" "$sock"
	fi
	say "starting a sample PostgreSQL $("$pg_bin/postgres" --version | sed 's/.*) \([0-9.]*\).*/\1/') cluster"
	as_pg "$pg_bin/initdb" -D "$tmp/pg" -A trust -N -U postgres -E UTF8 --locale=C \
		>"$tmp/initdb.log" 2>&1 || {
		show_log_tail "$tmp/initdb.log" "initdb"
		die "initdb failed"
	}
	cat >>"$tmp/pg/postgresql.conf" <<-EOF

		# throwaway demo cluster: private unix socket only, no durability
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
		show_log_tail "$tmp/postgres.log" "sample PostgreSQL log"
		die "the sample PostgreSQL cluster did not start"
	}
	sql postgres -c 'CREATE DATABASE sensors' -c 'CREATE DATABASE warehouse'
}

# The source: readings shaped like the public environmental sensor telemetry
# data set (three devices reporting every few seconds for about a week).
load_sample() {
	local per_device=$(((rows_wanted + 2) / 3)) t0=$SECONDS
	say "generating $(commas $((per_device * 3))) sensor readings in database \"sensors\""
	sql sensors -v per_device="$per_device" <<-'EOF'
		CREATE TABLE devices (
		    device        text PRIMARY KEY,
		    location      text NOT NULL,
		    description   text,
		    installed_at  timestamptz NOT NULL,
		    firmware      text NOT NULL
		);
		INSERT INTO devices VALUES
		  ('00:0f:00:70:91:0a', 'cellar storeroom', 'stable conditions, cooler and more humid',
		   '2020-07-03 09:12:00+00', '1.4.2'),
		  ('1c:bf:ce:15:ec:4d', 'greenhouse', 'highly variable temperature and humidity',
		   '2020-07-06 14:40:00+00', '1.5.0'),
		  ('b8:27:eb:bf:9d:51', 'lab, north wall', 'stable conditions, warmer and dry',
		   '2020-07-02 08:05:00+00', '1.4.2');

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
		-- p: what each device reads on average, how much its readings swing over a
		-- day, how noisy they are, and how often its light is on; s: one reading
		-- every five seconds, where it falls in the day (+1 at three in the
		-- afternoon, -1 at three at night) and a slow drift of the gas sensor.
		INSERT INTO device
		SELECT s.ts, p.device,
		       round(p.co * s.gas * 1e7) / 1e7,
		       round((p.humidity - 2 * p.swing * s.day + 2 * p.noise * (random() - 0.5)) * 10) / 10,
		       s.day + 0.3 * random() > p.light_cut,
		       round(p.lpg * (1 + 0.7 * (s.gas - 1)) * 1e7) / 1e7,
		       random() < p.motion_rate,
		       round(p.smoke * (1 + 0.8 * (s.gas - 1)) * 1e7) / 1e7,
		       round((p.temp + p.swing * s.day + p.noise * (random() - 0.5)) * 10) / 10
		  FROM (SELECT device, offset_s::float8, temp::float8, humidity::float8, co::float8,
		               lpg::float8, smoke::float8, swing::float8, noise::float8,
		               light_cut::float8, motion_rate::float8
		          FROM (VALUES ('00:0f:00:70:91:0a', 0.0, 19.4, 75.5, 0.0029, 0.0055, 0.0146, 0.4, 0.6, 1.5, 0.0004),
		                       ('1c:bf:ce:15:ec:4d', 1.7, 26.0, 61.0, 0.0045, 0.0070, 0.0188, 3.0, 2.5, -0.6, 0.0030),
		                       ('b8:27:eb:bf:9d:51', 3.1, 22.3, 50.8, 0.0050, 0.0076, 0.0204, 0.8, 0.7, 0.7, 0.0012))
		               AS v(device, offset_s, temp, humidity, co, lpg, smoke, swing, noise, light_cut,
		                    motion_rate)) AS p
		 CROSS JOIN LATERAL (
		       SELECT timestamptz '2020-07-12 00:01:34+00'
		                  + make_interval(secs => i * 5 + p.offset_s + random() * 0.9) AS ts,
		              sin(2 * pi() * ((i * 5 + p.offset_s) / 86400 - 0.375)) AS day,
		              1 + 0.12 * sin(i / 700) + 0.06 * random() AS gas
		         FROM generate_series(0, :per_device - 1) AS g(n), LATERAL (SELECT n::float8 AS i) AS f
		       ) AS s;
		ALTER TABLE device ADD PRIMARY KEY (device, ts);

		CREATE TABLE alerts (
		    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		    device      text NOT NULL REFERENCES devices,
		    metric      text NOT NULL,
		    threshold   double precision NOT NULL,
		    rule        jsonb NOT NULL,
		    enabled     boolean NOT NULL DEFAULT true,
		    created_at  timestamptz NOT NULL DEFAULT now()
		);
		INSERT INTO alerts (device, metric, threshold, rule, enabled)
		SELECT d.device, m.metric, m.threshold,
		       jsonb_build_object('op', '>', 'window', m.win, 'min_readings', 3,
		                          'severity', m.severity, 'notify', jsonb_build_array('ops@example.com')),
		       d.device <> '00:0f:00:70:91:0a' OR m.metric <> 'temp'
		  FROM devices d
		 CROSS JOIN (VALUES ('temp', 30.0, '5 min', 'warning'),
		                    ('humidity', 85.0, '15 min', 'warning'),
		                    ('co', 0.012, '1 min', 'critical'),
		                    ('smoke', 0.035, '1 min', 'critical'))
		       AS m(metric, threshold, win, severity)
		 ORDER BY d.device, m.metric;

		CREATE TABLE readings_daily AS
		SELECT device, (ts AT TIME ZONE 'UTC')::date AS day, count(*)::int AS readings,
		       round(min(temp)::numeric, 1) AS temp_min,
		       round(avg(temp)::numeric, 2) AS temp_avg,
		       round(max(temp)::numeric, 1) AS temp_max,
		       round(avg(humidity)::numeric, 2) AS humidity_avg,
		       max(co) AS co_max,
		       max(smoke) AS smoke_max,
		       count(*) FILTER (WHERE motion)::int AS motion_events,
		       round(avg(light::int)::numeric, 3) AS light_share
		  FROM device
		 GROUP BY 1, 2;
		ALTER TABLE readings_daily ADD PRIMARY KEY (device, day);

		ANALYZE;
	EOF
	local summary name n size
	summary=$(sql sensors -A -t -F $'\t' -c "
		SELECT 'device', count(*), pg_size_pretty(pg_table_size('device')) FROM device
		UNION ALL SELECT 'devices', count(*), pg_size_pretty(pg_table_size('devices')) FROM devices
		UNION ALL SELECT 'alerts', count(*), pg_size_pretty(pg_table_size('alerts')) FROM alerts
		UNION ALL SELECT 'readings_daily', count(*), pg_size_pretty(pg_table_size('readings_daily'))
		  FROM readings_daily")
	while IFS=$'\t' read -r name n size; do
		printf '    %-22s %9s rows  %s\n' "public.$name" "$(commas "$n")" "$size"
	done <<<"$summary"
	printf '    done in %d s\n' $((SECONDS - t0))
}

port_taken() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Start ferryd listening on $1; true once it answers /healthz, false when it
# exited because it could not listen there.
launch_ferryd() {
	local listen=$1 port="" deadline
	"$ferryd" --data-dir "$tmp/ferry" --listen "$listen" >>"$tmp/ferryd.log" 2>&1 &
	ferry_pid=$!
	deadline=$((SECONDS + 90))
	while :; do
		port=$(sed -n 's|.* listening on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' \
			"$tmp/ferryd.log" | tail -n 1)
		if [ -n "$port" ]; then break; fi
		if ! kill -0 "$ferry_pid" 2>/dev/null; then
			wait "$ferry_pid" 2>/dev/null || true
			ferry_pid=""
			grep -q 'could not listen' "$tmp/ferryd.log" && return 1
			show_log_tail "$tmp/ferryd.log" "ferryd log"
			die "ferryd exited during start-up"
		fi
		[ "$SECONDS" -lt "$deadline" ] || {
			show_log_tail "$tmp/ferryd.log" "ferryd log"
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

start_ferryd() {
	local port=${DEMO_PORT:-8080}
	[[ $port =~ ^[0-9]+$ ]] || die "DEMO_PORT must be a port number"
	if [ "$port" != 0 ] && port_taken "$port"; then
		say "port $port is taken; ferryd will pick a free one"
		port=0
	fi
	say "starting ferryd with an embedded metadata database in $tmp/ferry"
	if ! launch_ferryd "127.0.0.1:$port"; then
		[ "$port" != 0 ] || die "ferryd could not listen on 127.0.0.1:0"
		say "port $port was taken meanwhile; ferryd will pick a free one"
		launch_ferryd 127.0.0.1:0 || die "ferryd could not listen on 127.0.0.1:0"
	fi
	printf '    %s  (pid %s, log %s)\n' "$base/" "$ferry_pid" "$tmp/ferryd.log"
}

create_job() {
	local body src dst
	src="postgresql://postgres@/sensors?host=$sock"
	dst="postgresql://postgres@/warehouse?host=$sock"
	body=$(jq -n --arg name "$job" --arg src "$src" --arg dst "$dst" '{
		name: $name,
		source: {dsn: $src},
		target: {dsn: $dst},
		include: ["public.*"],
		load: {mode: "replace", create: true, validate: "count"}
	}')
	say "POST /api/v1/jobs  (create job $job)"
	api POST /api/v1/jobs "$body" |
		jq -r '"    id \(.id), load.mode \(.load.mode), parallel \(.load.parallel), validate \(.load.validate)"'
}

show_plan() {
	local plan
	say "GET /api/v1/jobs/$job/plan"
	plan=$(api GET "/api/v1/jobs/$job/plan")
	jq -r '.tables[] | [.source, .target, .rows_estimate, .bytes_estimate, .columns,
		(if .has_primary_key then "pk" else "no pk" end), (.warnings | join("; "))] | @tsv' \
		<<<"$plan" | while IFS=$'\t' read -r s t r b c pk w; do
		printf '    %-22s -> %-22s ~%9s rows %9s  %s cols, %s%s\n' "$s" "$t" "$(commas "$r")" \
			"$(human "$b")" "$c" "$pk" "${w:+  ($w)}"
	done
	printf '    %s tables, ~%s rows, %s\n' "$(jq -r .totals.tables <<<"$plan")" \
		"$(commas "$(jq -r .totals.rows_estimate <<<"$plan")")" \
		"$(human "$(jq -r .totals.bytes_estimate <<<"$plan")")"
	jq -r '.warnings[] | "    warning: " + .' <<<"$plan"
}

trigger_and_watch() {
	local run line state loaded total loading errored rows est pct eta ms extra
	say "POST /api/v1/jobs/$job/runs  (trigger a run)"
	run=$(api POST "/api/v1/jobs/$job/runs")
	run_id=$(jq -r .id <<<"$run")
	printf '    run %s\n' "$run_id"
	local deadline=$((SECONDS + run_timeout_s))
	while :; do
		run=$(api GET "/api/v1/runs/$run_id")
		line=$(jq -r '[.state, .tables.loaded, .tables.total, .tables.loading, .tables.errored,
			.rows, .rows_estimate, (.progress * 100), (.eta_s // -1), (.elapsed_ms // 0)] | @tsv' \
			<<<"$run")
		IFS=$'\t' read -r state loaded total loading errored rows est pct eta ms <<<"$line"
		extra=""
		if [ "$loading" -gt 0 ]; then extra+=", $loading loading"; fi
		if [ "$errored" -gt 0 ]; then extra+=", $errored errored"; fi
		if [ "$eta" = -1 ]; then eta=-; else eta=$(printf '%.1fs' "$eta"); fi
		printf '    %6.1fs  %-10s tables %s/%s loaded%-22s rows %9s of ~%s  %5.1f%%  ETA %s\n' \
			"$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" "$state" "$loaded" "$total" "$extra" \
			"$(commas "$rows")" "$(commas "$est")" "$pct" "$eta"
		case $state in
		succeeded | failed | cancelled) break ;;
		esac
		[ "$SECONDS" -lt "$deadline" ] || die "the run did not finish within $run_timeout_s s"
		sleep 0.5
	done
	run_state=$state
}

report() {
	local run tables
	run=$(api GET "/api/v1/runs/$run_id")
	tables=$(api GET "/api/v1/runs/$run_id/tables")
	echo
	say "run $run_id $(jq -r .state <<<"$run")"
	{
		jq -r '.items[] | [.source, .state, .rows, .bytes, (.elapsed_ms // 0), (.rows_per_s // 0),
			.validation.state] | @tsv' <<<"$tables"
		jq -r '["TOTAL", .state, .rows, .bytes, (.elapsed_ms // 0),
			(if (.elapsed_ms // 0) > 0 then .rows * 1000 / .elapsed_ms else 0 end), ""] | @tsv' <<<"$run"
	} | awk -F '\t' '
		function commas(n,   s, out) {
			s = sprintf("%d", n)
			out = ""
			while (length(s) > 3) {
				out = "," substr(s, length(s) - 2) out
				s = substr(s, 1, length(s) - 3)
			}
			return s out
		}
		function human(b,   u, i) {
			split("B KiB MiB GiB TiB", u, " ")
			i = 1
			while (b >= 1024 && i < 5) { b /= 1024; i++ }
			return i == 1 ? sprintf("%d %s", b, u[i]) : sprintf("%.1f %s", b, u[i])
		}
		{ n++; for (f = 1; f <= NF; f++) c[n, f] = $f; if (length($1) > w) w = length($1) }
		END {
			fmt = "    %-" w "s  %-9s  %11s  %10s  %8s  %11s  %s\n"
			printf(fmt, "table", "state", "rows", "bytes", "seconds", "rows/s", "count check")
			rule = sprintf("%" (w + 71) "s", "")
			gsub(/ /, "-", rule)
			for (i = 1; i <= n; i++) {
				if (i == n) printf("    %s\n", rule)
				printf(fmt, c[i, 1], c[i, 2], commas(c[i, 3]), human(c[i, 4]),
				       sprintf("%.2f", c[i, 5] / 1000), commas(c[i, 6] + 0.5), c[i, 7])
			}
		}'
	if [ "$run_state" != succeeded ]; then
		echo
		jq -r '"    error: \(.error // "none")"' <<<"$run"
		api GET "/api/v1/runs/$run_id/events?limit=1000" |
			jq -r '.items[] | select(.level != "info" and .kind != "run_finished") |
				"    \(.level): \(.table // "run"): \(.message)"'
	fi
}

where_to_look() {
	local page
	page=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/" || true)
	echo
	say "ferryd is serving"
	printf '    status page  %s/%s\n' "$base" "$([ "$page" = 200 ] || echo "  (not built into this ferryd: GET / answers $page)")"
	printf '    API          %s/api/v1/jobs\n' "$base"
	printf '    contract     %s/openapi.yaml\n' "$base"
	printf '    ferryd log   %s\n' "$tmp/ferryd.log"
	cat <<-EOF

		    Try:
		      curl -s $base/api/v1/jobs | jq
		      curl -s $base/api/v1/jobs/$job/plan | jq '.totals'
		      curl -s $base/api/v1/runs/$run_id/tables | jq '.items[] | {source, state, rows, validation}'
		      curl -s '$base/api/v1/runs/$run_id/events?after=0' | jq -r '.items[] | "\(.at)  \(.kind)  \(.message)"'
		      curl -s -X POST $base/api/v1/jobs/$job/runs | jq '{id, state}'
		      $pg_bin/psql -h $sock -U postgres warehouse -c '\\dt+'

	EOF
}

main() {
	check_tools
	find_pg_bin
	# nothing from the caller's environment steers libpq here
	local v
	for v in $(compgen -e); do
		if [[ $v == PG* ]]; then unset "$v"; fi
	done
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-demo.XXXXXX")
	say "working in $tmp"

	start_cluster
	load_sample
	start_ferryd
	create_job
	show_plan
	trigger_and_watch
	report

	if [ "${DEMO_EXIT:-}" = 1 ]; then
		if [ "$run_state" = succeeded ]; then return 0; fi
		return 1
	fi
	where_to_look
	say "press Ctrl-C to stop ferryd and the sample cluster and remove $tmp"
	local rc=0
	wait "$ferry_pid" || rc=$?
	ferry_pid=""
	show_log_tail "$tmp/ferryd.log" "ferryd log"
	printf 'demo: ferryd exited on its own (status %s)\n' "$rc" >&2
	return 1
}

run_id=""
run_state=""
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
main "$@"

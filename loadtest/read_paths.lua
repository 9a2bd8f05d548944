-- loadtest/read_paths.lua: the wrk script of loadtest/run.sh.
--
-- Rotates every request over ferryd's read endpoints and counts what came
-- back: responses per status code, 2xx answers whose body is not a JSON
-- object, and a few samples of the bodies of non-2xx answers. At the end it
-- prints one line that run.sh parses:
--
--   LOADTEST requests=N duration_s=S rps=R p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
--            connect=N read=N write=N timeout=N non2xx=N s503=N bad_body=N statuses=200:N,...
--
-- and after it, one "LOADTEST-SAMPLE <count> <status> <body prefix>" line per
-- distinct non-2xx answer seen (at most 20 per thread).
--
-- Arguments (after "--" on the wrk command line): JOB_ID JOB_NAME RUN_ID.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("thread_no", #threads)
end

-- per thread (each wrk thread has its own copy of these globals)
local requests = {}
local next_request = 0
statuses = {}
samples = {}
sample_count = 0
bad_body = 0

function init(args)
	local job_id, job_name, run_id = args[1], args[2], args[3]
	if not (job_id and job_name and run_id) then
		error("read_paths.lua needs the arguments JOB_ID JOB_NAME RUN_ID")
	end
	local paths = {
		"/api/v1/jobs",
		"/api/v1/jobs/" .. job_id,
		"/api/v1/runs/" .. run_id,
		"/api/v1/runs/" .. run_id .. "/tables",
		"/api/v1/runs/" .. run_id .. "/events",
		"/healthz",
		"/api/v1/jobs/" .. job_name,
		"/api/v1/runs/" .. run_id .. "/events?after=0&limit=1000",
	}
	for i, path in ipairs(paths) do
		requests[i] = wrk.format("GET", path, {["Accept"] = "application/json"})
	end
	-- start each thread at another place of the rotation
	next_request = (thread_no or 0) * 3
end

function request()
	next_request = next_request % #requests + 1
	return requests[next_request]
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
	if status >= 200 and status <= 299 then
		if body == nil or body:sub(1, 1) ~= "{" then
			bad_body = bad_body + 1
		end
		return
	end
	local text = (body or ""):sub(1, 160):gsub("%s+", " ")
	local key = status .. " " .. text
	if samples[key] then
		samples[key] = samples[key] + 1
	elseif sample_count < 20 then
		samples[key] = 1
		sample_count = sample_count + 1
	end
end

function done(summary, latency, _)
	local by_status, merged = {}, {}
	local non2xx, s503, bad = 0, 0, 0
	for _, t in ipairs(threads) do
		for status, n in pairs(t:get("statuses") or {}) do
			by_status[status] = (by_status[status] or 0) + n
		end
		for key, n in pairs(t:get("samples") or {}) do
			merged[key] = (merged[key] or 0) + n
		end
		bad = bad + (t:get("bad_body") or 0)
	end
	local codes = {}
	for status, n in pairs(by_status) do
		table.insert(codes, status)
		if status < 200 or status > 299 then
			non2xx = non2xx + n
		end
		if status == 503 then
			s503 = n
		end
	end
	table.sort(codes)
	local parts = {}
	for _, status in ipairs(codes) do
		table.insert(parts, status .. ":" .. by_status[status])
	end
	local seconds = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format(
		"LOADTEST requests=%d duration_s=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f " ..
		"max_ms=%.2f connect=%d read=%d write=%d timeout=%d non2xx=%d s503=%d bad_body=%d " ..
		"statuses=%s\n",
		summary.requests, seconds, summary.requests / seconds,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000,
		e.connect, e.read, e.write, e.timeout, non2xx, s503, bad,
		#parts > 0 and table.concat(parts, ",") or "none"))
	for key, n in pairs(merged) do
		io.write(string.format("LOADTEST-SAMPLE %d %s\n", n, key))
	end
end

-- wrk.lua: the Slack side of scripts/bench.
--
--   wrk ... -s bench/wrk.lua URL -- SECRET RUNID TEAM USER TEXT EXPECT
--
-- Every request is a slash-command POST signed the way Slack signs it
-- (HMAC-SHA256 of "v0:TIMESTAMP:BODY" with SECRET, computed through
-- LuaJIT's FFI with the libcrypto wrk itself links).  forcelink refuses a
-- signature it has seen before, so every body is distinct: its
-- trigger_id and response_url carry RUNID (unique per wrk run), the
-- thread number and a counter.  All three targets get the same requests,
-- so the work of this script is the same for each.
--
-- A reply must be 200 and contain EXPECT (for /contact: a contact's name,
-- so an error message answered with 200 does not count as served).  At
-- the end one line is printed for scripts/bench:
--   WRK requests=N duration_us=N rps=N p50_us=N p99_us=N max_us=N
--       non2xx=N sockerr=N bad=N

local ffi = require("ffi")
ffi.cdef[[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
    const unsigned char *d, size_t n, unsigned char *md,
    unsigned int *md_len);
]]

local threads = {}
local nthreads = 0

function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
	table.insert(threads, thread)
end

local secret, runid, team, user, text, expect
local md = ffi.new("unsigned char[32]")
local mdlen = ffi.new("unsigned int[1]")
local sha256
local counter = 0
bad = 0

function init(args)
	secret, runid, team, user, text, expect =
	    args[1], args[2], args[3], args[4], args[5], args[6]
	if not expect then
		error("usage: -- SECRET RUNID TEAM USER TEXT EXPECT")
	end
	sha256 = ffi.C.EVP_sha256()
end

local function hex(p, n)
	local t = {}
	for i = 0, n - 1 do
		t[i + 1] = string.format("%02x", p[i])
	end
	return table.concat(t)
end

function request()
	counter = counter + 1
	local id = runid .. "." .. tid .. "." .. counter
	local body = "token=bench&team_id=" .. team ..
	    "&team_domain=bench&channel_id=C0BENCH001&channel_name=general" ..
	    "&user_id=" .. user .. "&user_name=bench&command=%2Fcontact" ..
	    "&text=" .. text ..
	    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F" ..
	    team .. "%2F" .. id .. "%2Fbench&trigger_id=" .. id
	local ts = tostring(os.time())
	local base = "v0:" .. ts .. ":" .. body
	ffi.C.HMAC(sha256, secret, #secret, base, #base, md, mdlen)
	return wrk.format("POST", nil, {
		["Content-Type"] = "application/x-www-form-urlencoded",
		["X-Slack-Request-Timestamp"] = ts,
		["X-Slack-Signature"] = "v0=" .. hex(md, 32),
	}, body)
end

function response(status, headers, body)
	if status == 200 and not string.find(body, expect, 1, true) then
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local nbad = 0
	for _, t in ipairs(threads) do
		nbad = nbad + (t:get("bad") or 0)
	end
	local e = summary.errors
	io.write(string.format("WRK requests=%d duration_us=%d rps=%.1f " ..
	    "p50_us=%d p99_us=%d max_us=%d non2xx=%d sockerr=%d bad=%d\n",
	    summary.requests, summary.duration,
	    summary.requests / (summary.duration / 1e6),
	    latency:percentile(50), latency:percentile(99), latency.max,
	    e.status, e.connect + e.read + e.write + e.timeout, nbad))
end

-- bench/webhook.lua: wrk script for bench/webhook.sh. Every request is a distinct Toggl webhook delivery
-- (a time_entry "created" event, shaped like the fake Toggl's, with its own event id and entry id), signed
-- like Toggl signs: X-Webhook-Signature-256 = sha256=<hex HMAC-SHA256(secret, raw body)>. wrk has no HMAC,
-- so SHA-256 is done here in pure Lua on LuaJIT's bit library; init() checks it against Toggl's documented
-- signature vector and refuses to run if it disagrees.
--   wrk ... -s bench/webhook.lua URL -- SECRET ROUND TOGGL_USER WORKSPACE [START]
-- ROUND (0..8) keeps the ids of successive runs apart. START is the epoch of the first entry's start
-- (default 1700000000, outside any Google mirror window; a recent one puts the entries inside it).
-- done() prints one JSON line for the driver.

local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit, tohex = bit.rshift, bit.lshift, bit.ror, bit.tobit, bit.tohex
local byte, char, rep, format = string.byte, string.char, string.rep, string.format

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
for i = 1, 64 do K[i] = tobit(K[i]) end

local w = {}

-- SHA-256 of msg: the eight state words (signed 32-bit numbers).
local function sha256(msg)
  local ml = #msg
  local bits = ml * 8
  msg = msg .. "\128" .. rep("\0", (55 - ml) % 64) ..
        char(0, 0, 0, 0, band(rshift(bits, 24), 255), band(rshift(bits, 16), 255),
             band(rshift(bits, 8), 255), band(bits, 255))
  local h0, h1, h2, h3 = tobit(0x6a09e667), tobit(0xbb67ae85), tobit(0x3c6ef372), tobit(0xa54ff53a)
  local h4, h5, h6, h7 = tobit(0x510e527f), tobit(0x9b05688c), tobit(0x1f83d9ab), tobit(0x5be0cd19)
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do
      local a, b, c, d = byte(msg, chunk + i * 4, chunk + i * 4 + 3)
      w[i] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
    end
    for i = 16, 63 do
      local x, y = w[i - 15], w[i - 2]
      local s0 = bxor(ror(x, 7), ror(x, 18), rshift(x, 3))
      local s1 = bxor(ror(y, 17), ror(y, 19), rshift(y, 10))
      w[i] = tobit(w[i - 16] + s0 + w[i - 7] + s1)
    end
    local a, b, c, d, e, f, g, h = h0, h1, h2, h3, h4, h5, h6, h7
    for i = 0, 63 do
      local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
      local ch = bxor(band(e, f), band(bnot(e), g))
      local t1 = tobit(h + S1 + ch + K[i + 1] + w[i])
      local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
      local maj = bxor(band(a, b), band(a, c), band(b, c))
      h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + S0 + maj)
    end
    h0, h1, h2, h3 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c), tobit(h3 + d)
    h4, h5, h6, h7 = tobit(h4 + e), tobit(h5 + f), tobit(h6 + g), tobit(h7 + h)
  end
  return { h0, h1, h2, h3, h4, h5, h6, h7 }
end

local function words_to_bytes(hw)
  local out = {}
  for i = 1, 8 do
    local v = hw[i]
    out[i] = char(band(rshift(v, 24), 255), band(rshift(v, 16), 255), band(rshift(v, 8), 255), band(v, 255))
  end
  return table.concat(out)
end

local ipad, opad

local function hmac_key(key)
  if #key > 64 then key = words_to_bytes(sha256(key)) end
  key = key .. rep("\0", 64 - #key)
  local i, o = {}, {}
  for n = 1, 64 do
    local k = byte(key, n)
    i[n] = char(bxor(k, 0x36))
    o[n] = char(bxor(k, 0x5c))
  end
  ipad, opad = table.concat(i), table.concat(o)
end

local function signature(body)
  local hw = sha256(opad .. words_to_bytes(sha256(ipad .. body)))
  local hex = {}
  for i = 1, 8 do hex[i] = tohex(hw[i], 8) end
  return "sha256=" .. table.concat(hex)
end

-- Toggl's documented vector (../shared/fixtures/toggl-webhook-signature-vectors.json, "ping-older-docs").
local VECTOR_SECRET = "PGuRrhCFajIyEvFlreKL"
local VECTOR_BODY = '{"event_id":0,"created_at":"2022-06-25T03:58:10.207820267Z","creator_id":6,' ..
  '"metadata":{"request_type":"POST","event_user_id":6},"payload":"ping","subscription_id":6}'
local VECTOR_SIG = "sha256=55343383e52a9cd2f56bd4e9fb5b6ce6982fb45955f26ea816cf7495d98c5fd2"

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  hmac_key(VECTOR_SECRET)
  if signature(VECTOR_BODY) ~= VECTOR_SIG then
    error("bench/webhook.lua: the Lua HMAC-SHA256 does not match Toggl's vector")
  end
  secret = args[1] or error("usage: -- SECRET ROUND TOGGL_USER WORKSPACE [START]")
  round = tonumber(args[2] or "0")
  toggl_user = tonumber(args[3] or "6")
  workspace = tonumber(args[4] or "1")
  start0 = tonumber(args[5] or "1700000000")
  hmac_key(secret)
  -- Ids: a range per run and per wrk thread, so no two requests of a bench share an event or an entry.
  base = round * 1e12 + (tid or 0) * 1e9 + 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["User-Agent"] = "Toggl-Webhooks/1.0 (bench)"
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", t)
end

function request()
  counter = counter + 1
  local n = base + counter
  local start = start0 + (counter % 10000000)
  local stop = start + 1800
  local body = format(
    '{"event_id":%.0f,"created_at":"%s.123Z","creator_id":%d,"metadata":{"action":"created",' ..
    '"event_user_id":"%d","model":"time_entry","model_owner_id":"%d","path":"/api/v9/workspaces/%d/time_entries",' ..
    '"request_body":"{}","request_type":"POST","time_entry_id":"%.0f","workspace_id":"%d"},' ..
    '"payload":{"at":"%s+00:00","billable":false,"description":"bench entry %.0f","duration":1800,' ..
    '"duronly":true,"id":%.0f,"project_id":null,"server_deleted_at":null,"start":"%sZ","stop":"%sZ",' ..
    '"tag_ids":null,"tags":[],"task_id":null,"uid":%d,"user_id":%d,"wid":%d,"workspace_id":%d},' ..
    '"subscription_id":1,"timestamp":"%s.123456789Z","url_callback":"https://bench.invalid/webhook"}',
    n, iso(stop), toggl_user, toggl_user, toggl_user, workspace, n, workspace,
    iso(stop), n, n, iso(start), iso(stop), toggl_user, toggl_user, workspace, workspace, iso(stop))
  wrk.headers["X-Webhook-Signature-256"] = signature(body)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(format('{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,' ..
    '"non2xx":%d,"socket_errors":%d}\n', summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end

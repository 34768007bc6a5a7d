"""The Lua script of the dispatch hot path: one call links or creates a chunk of new cases.

It takes its many values as one JSON argument (decoded by Redis's cjson) instead of dozens
of arguments per case: packing and parsing thousands of command arguments cost more, on
both sides, than one JSON document.  Every key lives in the {cases} slot.
"""

from __future__ import annotations

# Create new cases (the dispatch hot path).  For each report it first looks for a likely
# duplicate: an open case of the same item within the radius (GEOSEARCH, nearest first, at
# most 5) reported within the window.  Found: the report becomes a case 'linked' to it and
# the target gets a link step; otherwise it becomes the 'dispatched' case Python prepared.
# Deciding here, in the same atomic call that writes, means two consumers can never both
# open a case for one spot, and a report sees the cases created just before it in the chunk
# (each new case is added to its GEO set at once).  It leaves exactly what write_ops(None,
# case, steps) would (tests/test_cases.py compares the two), and nothing for an existing id
# (every case is in the all-cases index, which one ZMSCORE asks).
# Backlog zsets get one variadic ZADD per key at the end; counters are summed.
# ARGV: key prefix, radius in metres, window in seconds, the open states (space-separated),
# the link step's JSON before and after its note, the target's step likewise, the hash
# field names of a row (space-separated, see streams.cases.NEW_FIELDS), JSON of the rows:
# per case the values of those fields (null = left out), then remind_at or '', the local
# day YYYYMMDD and the report step's JSON; last, JSON of the dispatch step by department.
# Returns per case: 0 (the id existed), 1 (dispatched) or the id of the case it is linked to.
CREATE_LUA = """
local P, R, W = ARGV[1], ARGV[2], tonumber(ARGV[3])
local OPEN, NAMES, AT = {}, {}, {}
for s in string.gmatch(ARGV[4], '%S+') do OPEN[s] = true end
for s in string.gmatch(ARGV[9], '%S+') do NAMES[#NAMES + 1] = s; AT[s] = #NAMES end
local NF = #NAMES
local ID, IT, S, D, LA, LO, G, RA, DA, DL = AT.id, AT.it, AT.s, AT.d, AT.la, AT.lo, AT.g,
                                          AT.at, AT.da, AT.dl
local REMIND, DAY, REP = NF + 1, NF + 2, NF + 3
local LPRE, LSUF, TPRE, TSUF = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local DISPATCH, null = cjson.decode(ARGV[11]), cjson.null
local K_ALL, K_OPEN, K_DUE, K_REMIND = P .. 'all', P .. 'open', P .. 'due', P .. 'remind'
local K_DEPT, K_GRID = P .. 'n:dept', P .. 'n:grid'
local out, zsets, counts, stats, f = {}, {}, {}, {}, {}
local function zadd(key, score, id)
  local l = zsets[key]
  if not l then l = {}; zsets[key] = l end
  l[#l + 1] = score; l[#l + 1] = id
end
local function count(key, field)
  local h = counts[key]
  if not h then h = {}; counts[key] = h end
  h[field] = (h[field] or 0) + 1
end
local function duplicate_of(geo, lon, lat, at, id)
  local near = redis.call('GEOSEARCH', geo, 'FROMLONLAT', lon, lat, 'BYRADIUS', R, 'm',
                          'ASC', 'COUNT', 5)
  for _, c in ipairs(near) do
    if c ~= id then
      local v = redis.call('HMGET', P .. 'c:' .. c, 'at', 's')
      local t = tonumber(v[1])
      if t and OPEN[v[2]] and t >= at - W and t <= at + W then return c end
    end
  end
  return nil
end
local rows = cjson.decode(ARGV[10])
local ids = {}
for c, r in ipairs(rows) do ids[c] = r[ID] end
-- every case is in the all-cases index: one ZMSCORE tells which ids exist already
local known = #ids > 0 and redis.call('ZMSCORE', K_ALL, unpack(ids)) or {}
local seen = {}  -- the ids written by this call (an id twice in one chunk)
for c, r in ipairs(rows) do
  local id = r[ID]
  local key = P .. 'c:' .. id
  if known[c] or seen[id] then
    out[c] = 0
  else
    seen[id] = true
    local geo, lon, lat, dept, dl = P .. 'geo:' .. r[IT], r[LO], r[LA], r[D], r[DL]
    local target = duplicate_of(geo, lon, lat, tonumber(r[RA]), id)
    if target then r[S], r[D], r[DA], r[DL] = 'linked', '', null, null end
    local n = 0  -- f is reused: a table per case would be allocated, grown and collected
    for i = 1, NF do
      local v = r[i]
      if v ~= null then f[n + 1] = NAMES[i]; f[n + 2] = v; n = n + 2 end
    end
    local kind = 'new'
    if target then
      f[n + 1], f[n + 2] = 'lk', target
      redis.call('HSET', key, unpack(f, 1, n + 2))
      redis.call('RPUSH', P .. 'h:' .. id, r[REP], LPRE .. cjson.encode(target) .. LSUF)
      redis.call('HINCRBY', P .. 'c:' .. target, 'ln', 1)
      redis.call('RPUSH', P .. 'h:' .. target, TPRE .. cjson.encode(id) .. TSUF)
      kind = 'lnk'
      out[c] = target
    else
      redis.call('HSET', key, unpack(f, 1, n))
      redis.call('RPUSH', P .. 'h:' .. id, r[REP], DISPATCH[dept])
      redis.call('GEOADD', geo, lon, lat, id)
      zadd(K_OPEN, dl, id)
      zadd(P .. 'q:' .. dept, dl, id)
      zadd(K_DUE, dl, id)
      count(K_DEPT, dept)
      count(K_GRID, r[G])
      if r[REMIND] ~= '' then zadd(K_REMIND, r[REMIND], id) end
      out[c] = 1
    end
    zadd(K_ALL, r[RA], id)
    local day = r[DAY]
    local st = stats[day]
    if not st then
      st = {P .. 'st:' .. day, P .. 'st:' .. string.sub(day, 1, 6)}
      stats[day] = st
    end
    for _, k in ipairs(st) do
      count(k, 'rep')
      count(k, kind)
    end
  end
end
for key, l in pairs(zsets) do redis.call('ZADD', key, unpack(l)) end
for key, h in pairs(counts) do
  for field, n in pairs(h) do redis.call('HINCRBY', key, field, n) end
end
return out
"""

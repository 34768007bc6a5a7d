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
# case, steps) would (tests/test_cases.py compares the two), and nothing for an existing id.
# Backlog zsets get one variadic ZADD per key at the end; counters are summed.
# ARGV: key prefix, radius in metres, window in seconds, the open states (space-separated),
# the link step's JSON before and after its note, the target's step likewise, then JSON of
# [id, [field, value, ...] ending with the 8 dispatched-only values (s, d, da, dl), report
# step, dispatch step, reported_at, deadline, dept, grid, item, lon, lat, remind_at or '',
# local day YYYYMMDD] per case.
# Returns per case: 0 (the id existed), 1 (dispatched) or the id of the case it is linked to.
CREATE_LUA = """
local P, R, W = ARGV[1], ARGV[2], tonumber(ARGV[3])
local OPEN = {}
for s in string.gmatch(ARGV[4], '%S+') do OPEN[s] = true end
local LPRE, LSUF, TPRE, TSUF = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local out, zsets, counts = {}, {}, {}
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
for c, r in ipairs(cjson.decode(ARGV[9])) do
  local id, fields, rep, disp, at, dl, dept, grid, item, lon, lat, remind, day = unpack(r)
  local key = P .. 'c:' .. id
  if redis.call('EXISTS', key) == 1 then
    out[c] = 0
  else
    local geo = P .. 'geo:' .. item
    local target = duplicate_of(geo, lon, lat, tonumber(at), id)
    local kind = 'new'
    if target then
      local n = #fields - 8
      fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] = 's', 'linked', 'd', ''
      fields[n + 5], fields[n + 6] = 'lk', target
      redis.call('HSET', key, unpack(fields, 1, n + 6))
      redis.call('RPUSH', P .. 'h:' .. id, rep, LPRE .. cjson.encode(target) .. LSUF)
      redis.call('HINCRBY', P .. 'c:' .. target, 'ln', 1)
      redis.call('RPUSH', P .. 'h:' .. target, TPRE .. cjson.encode(id) .. TSUF)
      kind = 'lnk'
      out[c] = target
    else
      redis.call('HSET', key, unpack(fields))
      redis.call('RPUSH', P .. 'h:' .. id, rep, disp)
      redis.call('GEOADD', geo, lon, lat, id)
      zadd(P .. 'open', dl, id)
      zadd(P .. 'q:' .. dept, dl, id)
      zadd(P .. 'due', dl, id)
      count(P .. 'n:dept', dept)
      count(P .. 'n:grid', grid)
      if remind ~= '' then zadd(P .. 'remind', remind, id) end
      out[c] = 1
    end
    zadd(P .. 'all', at, id)
    for _, k in ipairs({P .. 'st:' .. day, P .. 'st:' .. string.sub(day, 1, 6)}) do
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

"""Lua scripts of the dispatch hot path: one call looks up a whole batch, one creates a chunk.

Both take their many values as one JSON argument (decoded by Redis's cjson) instead of
dozens of arguments per case: packing and parsing thousands of command arguments cost more,
on both sides, than one JSON document.  Every key lives in the {cases} slot.
"""

from __future__ import annotations

# Nearby open cases of each report.  ARGV: radius in metres, then JSON [[geo key, lon, lat],
# ...].  Returns, per report, the ids of at most 5 open cases of its item, nearest first.
LOOKUP_LUA = """
local out = {}
for i, q in ipairs(cjson.decode(ARGV[2])) do
  out[i] = redis.call('GEOSEARCH', q[1], 'FROMLONLAT', q[2], q[3], 'BYRADIUS', ARGV[1], 'm',
                      'ASC', 'COUNT', 5)
end
return out
"""

# Create new cases (the dispatch hot path).  It leaves exactly what write_ops(None, case,
# steps) would for a 'dispatched' or 'linked' case (tests/test_cases.py compares the two),
# and nothing for an existing id.  Hash and history are written case by case (so a
# repeated id in the chunk is skipped, and a case linked to one created just before finds
# it); index entries go in one variadic ZADD/GEOADD per key and counters are summed.
# ARGV: key prefix, JSON of [id, [field, value, ...], [history entry, ...], reported_at,
# deadline, dept, grid, item, lon, lat, remind_at or '', linked target or '', the target's
# history entry, local day YYYYMMDD] per case.  Returns 1 (created) or 0 (existed) per case.
CREATE_LUA = """
local P = ARGV[1]
local out, zsets, geo, counts = {}, {}, {}, {}
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
for c, r in ipairs(cjson.decode(ARGV[2])) do
  local id, fields, hist, at, dl, dept, grid, item, lon, lat, remind, target, link, day =
    unpack(r)
  local key = P .. 'c:' .. id
  if redis.call('EXISTS', key) == 1 then
    out[c] = 0
  else
    redis.call('HSET', key, unpack(fields))
    redis.call('RPUSH', P .. 'h:' .. id, unpack(hist))
    zadd(P .. 'all', at, id)
    local kind = 'new'
    if target == '' then
      zadd(P .. 'open', dl, id)
      zadd(P .. 'q:' .. dept, dl, id)
      zadd(P .. 'due', dl, id)
      count(P .. 'n:dept', dept)
      count(P .. 'n:grid', grid)
      local g = geo[item]
      if not g then g = {}; geo[item] = g end
      g[#g + 1] = lon; g[#g + 1] = lat; g[#g + 1] = id
      if remind ~= '' then zadd(P .. 'remind', remind, id) end
    else
      kind = 'lnk'
      redis.call('HINCRBY', P .. 'c:' .. target, 'ln', 1)
      redis.call('RPUSH', P .. 'h:' .. target, link)
    end
    for _, k in ipairs({P .. 'st:' .. day, P .. 'st:' .. string.sub(day, 1, 6)}) do
      count(k, 'rep')
      count(k, kind)
    end
    out[c] = 1
  end
end
for key, l in pairs(zsets) do redis.call('ZADD', key, unpack(l)) end
for item, l in pairs(geo) do redis.call('GEOADD', P .. 'geo:' .. item, unpack(l)) end
for key, h in pairs(counts) do
  for field, n in pairs(h) do redis.call('HINCRBY', key, field, n) end
end
return out
"""

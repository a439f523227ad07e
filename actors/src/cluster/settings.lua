-- Records what a standard client established for a live session.
-- KEYS[1] session hash; ARGV: field, value, field, value, ... (only the fields that change).
-- Returns 1, or 0 when the session is gone (so that a late write cannot bring a deleted or
-- expired record back, without a TTL).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1

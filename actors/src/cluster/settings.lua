-- Records what a standard client established for a live session.
-- KEYS[1] session hash; ARGV[1] protocol version, ARGV[2] log level ('' for either: unchanged).
-- Returns 1, or 0 when the session is gone (so that a late write cannot bring a deleted or
-- expired record back, without a TTL).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'protocol_version', ARGV[1])
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'log_level', ARGV[2])
end
return 1

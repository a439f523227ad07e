-- Marks a live session used: its last activity, and a fresh TTL on both of its keys.
-- KEYS[1] session hash, KEYS[2] events stream; ARGV[1] last activity (RFC 3339),
-- ARGV[2] TTL in ms, or '' for none.
-- Returns 1, or 0 when the session is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'last_activity', ARGV[1])
for _, key in ipairs(KEYS) do
  if ARGV[2] == '' then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, ARGV[2])
  end
end
return 1

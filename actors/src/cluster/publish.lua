-- Appends an event to a live session, numbering it after the session's last one.
-- KEYS[1] session hash, KEYS[2] events stream; ARGV[1] event JSON, ARGV[2] history to keep.
-- Returns the event's number, or nil when the session is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], string.format('%d-0', seq), 'data', ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  redis.call('PERSIST', KEYS[2])
end
return seq

import SiphonRedis

/// Scripts the leading supervisor runs to find dead workers and move their calls.
enum SupervisorScripts {
    private static func script(_ name: String, _ body: String) -> RedisScript { ClusterScripts.script(name, body) }

    /// Takes or renews the leader lease. ARGV: P, supervisor id, ttl_ms. Returns 1 when leading.
    static let lead = script("lead", """
        local k = P .. ':supervisor:leader'
        local cur = redis.call('GET', k)
        if not cur then redis.call('SET', k, ARGV[2], 'PX', ARGV[3]) return 1 end
        if cur == ARGV[2] then redis.call('PEXPIRE', k, ARGV[3]) return 1 end
        return 0
        """)

    /// Registered workers whose liveness key has expired, plus consumers of the group that still
    /// hold pending entries but are not alive (e.g. died before their registry entry was written).
    /// ARGV: P
    static let findDead = script("find_dead", """
        local dead, seen = {}, {}
        for _, w in ipairs(redis.call('ZRANGE', KWORKERS, 0, -1)) do
          seen[w] = true
          if redis.call('EXISTS', kalive(w)) == 0 then table.insert(dead, w) end
        end
        if redis.call('EXISTS', KCALLS) == 1 then
          local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KCALLS, GROUP)
          if ok then
            for _, c in ipairs(consumers) do
              local name, pending = nil, 0
              for i = 1, #c, 2 do
                if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
              end
              if name and not seen[name] and redis.call('EXISTS', kalive(name)) == 0 then
                if pending > 0 then table.insert(dead, name) else redis.call('XGROUP', 'DELCONSUMER', KCALLS, GROUP, name) end
              end
            end
          end
        end
        return dead
        """)

    /// Fences a dead worker off its calls (owner cleared → its writes are refused) and queues them
    /// for reassignment. Returns {orphaned call ids, entries still pending for that consumer}.
    /// ARGV: P, worker, now
    static let orphanWorker = script("orphan_worker", """
        local w, now = ARGV[2], ARGV[3]
        local orphaned = {}
        for _, id in ipairs(redis.call('SMEMBERS', kwcalls(w))) do
          local v = redis.call('HMGET', kcall(id), 'owner', 'status', 'epoch', 'entry')
          if v[1] == w and v[2] and not TERMINAL[v[2]] then
            redis.call('HSET', kcall(id), 'owner', '', 'updated_at', now)
            redis.call('DEL', klease(id))
            redis.call('SADD', KORPHANS, id)
            event(id, 'worker_lost', now, w, v[3], 'liveness key expired')
            table.insert(orphaned, v[4])
          end
        end
        redis.call('DEL', kwcalls(w), kworker(w))
        redis.call('ZREM', KWORKERS, w)
        local strays = {}
        if redis.call('EXISTS', KCALLS) == 1 then
          for _, e in ipairs(redis.call('XPENDING', KCALLS, GROUP, '-', '+', 1000, w)) do table.insert(strays, e[1]) end
        end
        return {orphaned, strays}
        """)

    /// Calls whose lease expired although their worker is alive (a stuck or confused worker):
    /// orphaned like a dead worker's. ARGV: P, now
    static let expireLeases = script("expire_leases", """
        local now = ARGV[2]
        local out = {}
        for _, w in ipairs(redis.call('ZRANGE', KWORKERS, 0, -1)) do
          if redis.call('EXISTS', kalive(w)) == 1 then
            for _, id in ipairs(redis.call('SMEMBERS', kwcalls(w))) do
              if redis.call('EXISTS', klease(id)) == 0 then
                local v = redis.call('HMGET', kcall(id), 'owner', 'status', 'epoch')
                redis.call('SREM', kwcalls(w), id)
                if v[1] == w and v[2] and not TERMINAL[v[2]] then
                  redis.call('HSET', kcall(id), 'owner', '', 'updated_at', now)
                  redis.call('SADD', KORPHANS, id)
                  event(id, 'lease_expired', now, w, v[3], 'worker alive but call lease not renewed')
                  table.insert(out, id)
                end
              end
            end
          end
        end
        return out
        """)

    /// Gives an orphaned call to the least-loaded live worker: epoch bump and XCLAIM in one step,
    /// or dead-letters it when `max_attempts` is spent. ARGV: P, id, now.
    /// The lease lasts three of the target's heartbeats: it renews it once it adopts the call.
    static let assign = script("assign", """
        local id, now = ARGV[2], ARGV[3]
        local key = kcall(id)
        local v = redis.call('HMGET', key, 'owner', 'status', 'attempts', 'job', 'entry', 'epoch')
        if not v[2] or TERMINAL[v[2]] or v[1] ~= '' then
          redis.call('SREM', KORPHANS, id)
          return {'skip'}
        end
        local attempts = tonumber(v[3] or '0') or 0
        local ok, job = pcall(cjson.decode, v[4] or '')
        if not ok or type(job) ~= 'table' then job = {} end
        if attempts >= (tonumber(job.max_attempts) or 3) then
          local reason = 'max_attempts (' .. attempts .. ') exhausted'
          redis.call('HSET', key, 'status', 'failed', 'reason', reason, 'ended_at', now, 'updated_at', now)
          ack(v[5])
          redis.call('XADD', KDEAD, 'MAXLEN', '~', 10000, '*', 'entry', v[5], 'call', id, 'reason', reason,
            'job', v[4] or '', 'worker', '', 'at', now)
          redis.call('SREM', KORPHANS, id)
          event(id, 'failed', now, '', v[6], reason)
          return {'dead'}
        end
        local target = pick(tostring(job.agent or ''), tostring(job.transport or 'sip'), '')
        if not target then return {'wait'} end
        local epoch = redis.call('HINCRBY', key, 'epoch', 1)
        redis.call('HINCRBY', key, 'attempts', 1)
        redis.call('HSET', key, 'owner', target, 'updated_at', now)
        move(v[5], target)
        redis.call('SADD', kwcalls(target), id)
        local hb = tonumber(redis.call('HGET', kworker(target), 'heartbeat_ms') or '500') or 500
        redis.call('SET', klease(id), target .. ':' .. epoch, 'PX', 3 * hb)
        redis.call('SREM', KORPHANS, id)
        event(id, 'reassigned', now, target, epoch, 'attempt ' .. (attempts + 1))
        return {'assigned', target, tostring(epoch)}
        """)

    static let all = [lead, findDead, orphanWorker, expireLeases, assign]
}

import SiphonRedis

/// Lua scripts shared by every process. Each script takes the key prefix as `ARGV[1]` and builds
/// key names with the prelude's functions (mirroring `ClusterKeys`).
///
/// Why Lua: `XCLAIM` does not check owners, so every write for a call is fenced on
/// `(owner, epoch)` inside one atomic script (see reference notes, "Fencing").
enum ClusterScripts {
    static let prelude = """
        local P = ARGV[1]
        local GROUP = 'workers'
        local KCALLS = P .. ':calls'
        local KWORKERS = P .. ':workers'
        local KDEAD = P .. ':dead'
        local KORPHANS = P .. ':orphans'
        local KINDEX = P .. ':calls:index'
        local function kcall(id) return P .. ':call:{' .. id .. '}' end
        local function kturns(id) return kcall(id) .. ':turns' end
        local function kctx(id) return kcall(id) .. ':context' end
        local function kevents(id) return kcall(id) .. ':events' end
        local function klease(id) return kcall(id) .. ':lease' end
        local function kworker(w) return P .. ':worker:' .. w end
        local function kalive(w) return kworker(w) .. ':alive' end
        local function kwcalls(w) return kworker(w) .. ':calls' end
        local TERMINAL = {ended=true, failed=true, no_answer=true, busy=true, canceled=true, rejected=true}
        local function event(id, typ, at, worker, epoch, detail)
          redis.call('XADD', kevents(id), 'MAXLEN', '~', 1000, '*', 'type', typ, 'at', at,
            'worker', worker or '', 'epoch', tostring(epoch or ''), 'detail', detail or '')
        end
        local function fence(id, w, epoch)
          local v = redis.call('HMGET', kcall(id), 'owner', 'epoch')
          if v[1] ~= w or v[2] ~= epoch then
            return redis.error_reply('FENCED call ' .. id .. ' is owned by ' .. tostring(v[1]) .. ' at epoch ' .. tostring(v[2]))
          end
          return nil
        end
        local function serves(list, item)
          return string.find('\\n' .. (list or '') .. '\\n', '\\n' .. item .. '\\n', 1, true) ~= nil
        end
        -- The live, non-draining worker with the lowest load (calls / capacity) that serves the
        -- agent over the transport and has a free slot. Transport '*' accepts any worker (used for
        -- entries whose job cannot be read: the worker that gets them dead-letters them).
        local function pick(agent, transport, exclude)
          local best, bestLoad = nil, nil
          for _, w in ipairs(redis.call('ZRANGE', KWORKERS, 0, -1)) do
            if w ~= exclude and redis.call('EXISTS', kalive(w)) == 1 then
              local h = redis.call('HMGET', kworker(w), 'capacity', 'draining', 'agents', 'transports')
              local cap = tonumber(h[1] or '0') or 0
              local ok = transport == '*' or (serves(h[4], transport) and (transport == 'sim' or serves(h[3], agent)))
              if h[2] ~= '1' and cap > 0 and ok then
                local load = redis.call('SCARD', kwcalls(w)) / cap
                if load < 1 and (bestLoad == nil or load < bestLoad) then best, bestLoad = w, load end
              end
            end
          end
          return best
        end

        """

    static func script(_ name: String, _ body: String) -> RedisScript {
        RedisScript(name: name, source: prelude + body)
    }

    /// Writes the call record and the job atomically; an idempotency key returns the first call.
    /// ARGV: P, id, job, now, agent, to, from, transport, max_attempts, idem_key|'', idem_ttl_ms
    static let enqueue = script("enqueue", """
        local id, job, now, idem = ARGV[2], ARGV[3], ARGV[4], ARGV[10]
        if idem ~= '' then
          local existing = redis.call('GET', P .. ':idem:' .. idem)
          if existing then return {existing, 0} end
        end
        if redis.call('EXISTS', kcall(id)) == 1 then return redis.error_reply('CONFLICT call ' .. id .. ' already exists') end
        local entry = redis.call('XADD', KCALLS, '*', 'job', job)
        redis.call('HSET', kcall(id), 'id', id, 'status', 'queued', 'agent', ARGV[5], 'to', ARGV[6], 'from', ARGV[7],
          'transport', ARGV[8], 'max_attempts', ARGV[9], 'job', job, 'entry', entry, 'owner', '', 'epoch', 0,
          'attempts', 0, 'last_seq', 0, 'created_at', now, 'updated_at', now)
        event(id, 'queued', now, '', 0, '')
        redis.call('ZADD', KINDEX, now, id)
        if idem ~= '' then redis.call('SET', P .. ':idem:' .. idem, id, 'PX', ARGV[11]) end
        return {id, 1}
        """)

    /// Cancels a queued call at once, or asks its owner to hang up (seen at its next heartbeat).
    /// ARGV: P, id, now, reason
    static let cancel = script("cancel", """
        local id, now = ARGV[2], ARGV[3]
        local key = kcall(id)
        local v = redis.call('HMGET', key, 'status', 'owner', 'epoch', 'entry')
        if not v[1] then return {'missing'} end
        if TERMINAL[v[1]] then return {'terminal', v[1]} end
        if v[1] == 'queued' or v[2] == '' then
          redis.call('HSET', key, 'status', 'canceled', 'reason', ARGV[4], 'ended_at', now, 'updated_at', now)
          redis.call('SREM', KORPHANS, id)
          if v[1] ~= 'queued' then redis.call('XACK', KCALLS, GROUP, v[4]) end
          event(id, 'canceled', now, '', v[3], ARGV[4])
          return {'canceled'}
        end
        redis.call('HSET', key, 'cancel', '1', 'updated_at', now)
        event(id, 'cancel_requested', now, v[2], v[3], ARGV[4])
        return {'requested', v[2]}
        """)

    static var all: [RedisScript] {
        [enqueue, cancel] + WorkerScripts.all + SupervisorScripts.all
    }
}

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
        local KINBOUND = P .. ':inbound'
        local KWORKERS = P .. ':workers'
        local KDEAD = P .. ':dead'
        local KORPHANS = P .. ':orphans'
        local KACTIVITY = P .. ':activity'
        local function kcall(id) return P .. ':call:{' .. id .. '}' end
        local function kturns(id) return kcall(id) .. ':turns' end
        local function kctx(id) return kcall(id) .. ':context' end
        local function kevents(id) return kcall(id) .. ':events' end
        local function klease(id) return kcall(id) .. ':lease' end
        local function kworker(w) return P .. ':worker:' .. w end
        local function kalive(w) return kworker(w) .. ':alive' end
        local function kwcalls(w) return kworker(w) .. ':calls' end
        local TERMINAL = {ended=true, failed=true, no_answer=true, busy=true, canceled=true, rejected=true}
        local function activity(id, typ)
          redis.call('XADD', KACTIVITY, 'MAXLEN', '~', 10000, '*', 'call', id, 'type', typ)
        end
        local function event(id, typ, at, worker, epoch, detail)
          redis.call('XADD', kevents(id), 'MAXLEN', '~', 1000, '*', 'type', typ, 'at', at,
            'worker', worker or '', 'epoch', tostring(epoch or ''), 'detail', detail or '')
          activity(id, typ)
        end
        -- Queue operations on a call's job entry; inbound calls have none (entry '').
        local function ack(entry) if entry and entry ~= '' then redis.call('XACK', KCALLS, GROUP, entry) end end
        local function move(entry, to) if entry and entry ~= '' then redis.call('XCLAIM', KCALLS, GROUP, to, 0, entry, 'JUSTID') end end
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

    /// Writes call records and jobs atomically for jobs that need a check first: an idempotency key
    /// returns the first call; an id chosen by the caller that exists already is a conflict.
    /// (Jobs with a generated id take the cheaper MULTI path in `CallQueue`.)
    /// The `queued` event is not stored: it is the call's `created_at` (see `SessionStore.events`).
    /// ARGV: P, now, idem_ttl_ms, then per job: id, job, idem_key|''
    /// Returns per job: id, then 1 (created), 0 (idempotent replay) or -1 (id exists).
    static let enqueue = script("enqueue", """
        local now, ttl = ARGV[2], ARGV[3]
        local out = {}
        for i = 4, #ARGV, 3 do
          local id, job, idem = ARGV[i], ARGV[i + 1], ARGV[i + 2]
          local existing = false
          if idem ~= '' then existing = redis.call('GET', P .. ':idem:' .. idem) end
          if existing then
            out[#out + 1] = existing; out[#out + 1] = 0
          elseif redis.call('EXISTS', kcall(id)) == 1 then
            out[#out + 1] = id; out[#out + 1] = -1
          else
            redis.call('XADD', KCALLS, '*', 'job', job)
            redis.call('HSET', kcall(id), 'status', 'queued', 'job', job, 'created_at', now)
            if idem ~= '' then redis.call('SET', P .. ':idem:' .. idem, id, 'PX', ttl) end
            out[#out + 1] = id; out[#out + 1] = 1
          end
        end
        return out
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
          if v[1] ~= 'queued' then ack(v[4]) end
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

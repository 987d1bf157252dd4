import SiphonRedis

/// Scripts a worker runs. Every write for a call checks `owner == me and epoch == my epoch`.
enum WorkerScripts {
    private static func script(_ name: String, _ body: String) -> RedisScript { ClusterScripts.script(name, body) }

    /// Takes a delivered entry: claims a queued call, resumes one the supervisor assigned to this
    /// worker, or reports why not. Creates the call record for jobs XADDed by hand. Absent hash
    /// fields (owner, epoch, attempts, last_seq) read as empty/0.
    /// ARGV: P, worker, entry, now, id, job, lease_ms
    static let claim = script("claim", """
        local w, entry, now, id = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
        local key = kcall(id)
        local h = redis.call('HMGET', key, 'status', 'entry', 'owner', 'epoch', 'last_seq')
        local status = h[1]
        if not status then
          redis.call('HSET', key, 'status', 'queued', 'job', ARGV[6], 'entry', entry, 'created_at', now)
          status = 'queued'
        elseif not h[2] then
          -- first delivery of a job the dispatcher enqueued: remember which entry carries it
          redis.call('HSET', key, 'entry', entry)
        elseif h[2] ~= entry then
          return {'duplicate', h[2]}
        end
        if TERMINAL[status] then
          ack(entry)
          return {'done', status}
        end
        if status == 'queued' then
          local epoch = redis.call('HINCRBY', key, 'epoch', 1)
          redis.call('HINCRBY', key, 'attempts', 1)
          redis.call('HSET', key, 'owner', w, 'status', 'claimed', 'claimed_at', now, 'updated_at', now)
          redis.call('SADD', kwcalls(w), id)
          redis.call('SET', klease(id), w .. ':' .. epoch, 'PX', ARGV[7])
          event(id, 'claimed', now, w, epoch, '')
          return {'claimed', tostring(epoch), '0', 'claimed'}
        end
        if h[3] == w then
          redis.call('SET', klease(id), w .. ':' .. h[4], 'PX', ARGV[7])
          redis.call('SADD', kwcalls(w), id)
          return {'resume', h[4], h[5] or '0', status}
        end
        return {'taken', h[3] or ''}
        """)

    /// Liveness, worker info, call leases (fenced), and what the supervisor wants of this worker.
    /// ARGV: P, worker, now, alive_ttl_ms, lease_ms, n, then n (field, value) pairs of worker info,
    ///       then (id, epoch, entry) per running call.
    /// Returns {fenced ids, ids with a cancel request, entry ids pending for this worker, ids of
    /// calls owned here that the worker did not list as running}.
    static let heartbeat = script("heartbeat", """
        local w, now = ARGV[2], ARGV[3]
        redis.call('SET', kalive(w), now, 'PX', ARGV[4])
        redis.call('ZADD', KWORKERS, now, w)
        local n = tonumber(ARGV[6])
        local info = {'id', w, 'last_heartbeat', now}
        for i = 7, 6 + 2 * n do table.insert(info, ARGV[i]) end
        redis.call('HSET', kworker(w), unpack(info))
        local fenced, cancels, pel, running = {}, {}, {}, {}
        for i = 7 + 2 * n, #ARGV, 3 do
          local id, epoch, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
          local v = redis.call('HMGET', kcall(id), 'owner', 'epoch', 'cancel')
          if v[1] ~= w or v[2] ~= epoch then
            table.insert(fenced, id)
          else
            redis.call('SET', klease(id), w .. ':' .. epoch, 'PX', ARGV[5])
            move(entry, w)
            if v[3] == '1' then table.insert(cancels, id) end
          end
          running[id] = true
        end
        -- calls the supervisor assigned here (or left here) that this worker is not running
        local assigned = {}
        for _, id in ipairs(redis.call('SMEMBERS', kwcalls(w))) do
          if not running[id] then table.insert(assigned, id) end
        end
        if redis.call('EXISTS', KCALLS) == 1 then
          for _, e in ipairs(redis.call('XPENDING', KCALLS, GROUP, '-', '+', 1000, w)) do table.insert(pel, e[1]) end
        end
        return {fenced, cancels, pel, assigned}
        """)

    /// Appends turn `seq`; a replayed seq is ignored (returns 0), a gap is an error.
    /// ARGV: P, worker, epoch, id, seq, role, text, interrupted, at, extra
    static let appendTurn = script("append_turn", """
        local id = ARGV[4]
        local err = fence(id, ARGV[2], ARGV[3])
        if err then return err end
        local last = tonumber(redis.call('HGET', kcall(id), 'last_seq') or '0') or 0
        local seq = tonumber(ARGV[5])
        if seq <= last then return 0 end
        if seq ~= last + 1 then return redis.error_reply('GAP turn ' .. seq .. ' after ' .. last) end
        redis.call('XADD', kturns(id), '*', 'seq', seq, 'role', ARGV[6], 'text', ARGV[7], 'interrupted', ARGV[8],
          'epoch', ARGV[3], 'at', ARGV[9], 'extra', ARGV[10])
        redis.call('HSET', kcall(id), 'last_seq', seq, 'updated_at', ARGV[9])
        activity(id, 'turn')
        return 1
        """)

    /// Moves the call to a status and records the event; terminal statuses also XACK the job and
    /// free the worker's slot. Repeating the current status is a no-op (safe to retry).
    /// ARGV: P, worker, epoch, id, status, event_type, now, detail, terminal(0|1)
    static let transition = script("transition", """
        local id, w, epoch, status, now = ARGV[4], ARGV[2], ARGV[3], ARGV[5], ARGV[7]
        local err = fence(id, w, epoch)
        if err then return err end
        local key = kcall(id)
        if redis.call('HGET', key, 'status') == status then return 0 end
        redis.call('HSET', key, 'status', status, 'updated_at', now)
        if status == 'active' then redis.call('HSETNX', key, 'answered_at', now) end
        if ARGV[9] == '1' then
          redis.call('HSET', key, 'ended_at', now, 'reason', ARGV[8])
          redis.call('HDEL', key, 'cancel')
          ack(redis.call('HGET', key, 'entry'))
          redis.call('SREM', kwcalls(w), id)
          redis.call('DEL', klease(id))
        end
        event(id, ARGV[6], now, w, epoch, ARGV[8])
        return 1
        """)

    /// Fenced session-context write. ARGV: P, worker, epoch, id, field, value, …
    static let setContext = script("set_context", """
        local id = ARGV[4]
        local err = fence(id, ARGV[2], ARGV[3])
        if err then return err end
        for i = 5, #ARGV, 2 do redis.call('HSET', kctx(id), ARGV[i], ARGV[i + 1]) end
        return 1
        """)

    /// Fenced write of call-hash fields (e.g. the SIP dialog snapshot). ARGV: P, worker, epoch, id, field, value, …
    static let setFields = script("set_fields", """
        local id = ARGV[4]
        local err = fence(id, ARGV[2], ARGV[3])
        if err then return err end
        for i = 5, #ARGV, 2 do redis.call('HSET', kcall(id), ARGV[i], ARGV[i + 1]) end
        return 1
        """)

    /// Fenced lifecycle event (e.g. `resumed`). ARGV: P, worker, epoch, id, type, now, detail, call_fields…
    static let recordEvent = script("record_event", """
        local id = ARGV[4]
        local err = fence(id, ARGV[2], ARGV[3])
        if err then return err end
        -- A retry after a lost reply (Redis answered, the worker never heard) repeats type and
        -- time: the event is already there.
        local mark = ARGV[5] .. '@' .. ARGV[6]
        if redis.call('HGET', kcall(id), 'last_event') == mark then return 0 end
        event(id, ARGV[5], ARGV[6], ARGV[2], ARGV[3], ARGV[7])
        redis.call('HSET', kcall(id), 'last_event', mark)
        for i = 8, #ARGV, 2 do redis.call('HSET', kcall(id), ARGV[i], ARGV[i + 1]) end
        return 1
        """)

    /// Gives a call up for immediate reassignment (drain, or no room for an assigned call).
    /// ARGV: P, worker, epoch, id, now, reason
    static let handoff = script("handoff", """
        local id, w = ARGV[4], ARGV[2]
        local err = fence(id, w, ARGV[3])
        if err then return err end
        redis.call('HSET', kcall(id), 'owner', '', 'updated_at', ARGV[5])
        redis.call('SREM', kwcalls(w), id)
        redis.call('DEL', klease(id))
        redis.call('SADD', KORPHANS, id)
        event(id, 'handed_off', ARGV[5], w, ARGV[3], ARGV[6])
        return 1
        """)

    /// Moves a job that cannot run to the dead-letter stream with the reason, and acknowledges it.
    /// A call record that belongs to this entry is marked failed. Once per entry: an entry
    /// delivered twice (a supervisor rerouted it while a slow worker was dead-lettering it) is
    /// acknowledged by the first, and the second finds it no longer pending. Returns 0 then.
    /// ARGV: P, entry, call id|'', reason, raw job (redacted), worker, now
    static let deadLetter = script("dead_letter", """
        local entry, id, now = ARGV[2], ARGV[3], ARGV[7]
        if entry ~= '' and #redis.call('XPENDING', KCALLS, GROUP, entry, entry, 1) == 0 then return 0 end
        redis.call('XADD', KDEAD, 'MAXLEN', '~', 10000, '*', 'entry', entry, 'call', id, 'reason', ARGV[4],
          'job', ARGV[5], 'worker', ARGV[6], 'at', now)
        ack(entry)
        if id ~= '' then
          local key = kcall(id)
          local v = redis.call('HMGET', key, 'entry', 'owner', 'status', 'epoch')
          -- the call this entry carries (entry recorded at claim, or not claimed yet)
          if (v[1] == entry or not v[1]) and v[3] and not TERMINAL[v[3]] then
            redis.call('HSET', key, 'status', 'failed', 'reason', ARGV[4], 'ended_at', now, 'updated_at', now, 'owner', '')
            if v[2] and v[2] ~= '' then redis.call('SREM', kwcalls(v[2]), id) end
            redis.call('DEL', klease(id))
            redis.call('SREM', KORPHANS, id)
            event(id, 'failed', now, ARGV[6], v[4], ARGV[4])
          end
        end
        return 1
        """)

    /// Hands a delivered entry to a live worker that serves its agent and transport.
    /// ARGV: P, entry, agent, transport, exclude. Returns the worker id or false.
    static let route = script("route", """
        local target = pick(ARGV[3], ARGV[4], ARGV[5])
        if not target then return false end
        redis.call('XCLAIM', KCALLS, GROUP, target, 0, ARGV[2], 'JUSTID')
        return target
        """)

    /// Records a call this worker answered (no queue entry): owned here at epoch 1, so it is
    /// persisted, fenced and taken over like any other. ARGV: P, worker, id, job, now, lease_ms, detail
    static let registerInbound = script("register_inbound", """
        local w, id, now = ARGV[2], ARGV[3], ARGV[5]
        local key = kcall(id)
        if redis.call('EXISTS', key) == 1 then return redis.error_reply('CONFLICT call ' .. id .. ' already exists') end
        redis.call('HSET', key, 'status', 'claimed', 'job', ARGV[4], 'entry', '', 'owner', w, 'epoch', 1, 'attempts', 1,
          'created_at', now, 'claimed_at', now, 'updated_at', now)
        redis.call('SADD', kwcalls(w), id)
        redis.call('SET', klease(id), w .. ':1', 'PX', ARGV[6])
        redis.call('XADD', KINBOUND, 'MAXLEN', '~', 100000, '*', 'call', id)  -- listed with the queued calls
        event(id, 'claimed', now, w, 1, ARGV[7])
        return 1
        """)

    /// Removes a stopping worker from the registry. ARGV: P, worker
    static let deregister = script("deregister", """
        local w = ARGV[2]
        redis.call('DEL', kalive(w), kworker(w))
        redis.call('ZREM', KWORKERS, w)
        if redis.call('SCARD', kwcalls(w)) == 0 then redis.call('DEL', kwcalls(w)) end
        return 1
        """)

    static let all = [claim, heartbeat, appendTurn, transition, setContext, setFields, recordEvent, handoff, deadLetter, route, registerInbound, deregister]
}

package limits

import (
	"context"
	"sync"
	"time"
)

// syncer is the approximate mode of Redis limits (limits.sync_interval > 0).
// Decisions are made against this replica's copy of each bucket and of each
// tenant's spend, with the same GCRA as in process; what they take is sent
// to Redis in the background, at most every interval, in one pipelined
// round trip, and Redis's answer (the shared state, every replica's takings
// included) becomes the new copy, plus whatever was taken here meanwhile.
// A decision that needs a bucket or spend record this replica has no fresh
// copy of (never seen, idle for a while, or Redis unreachable for a few
// intervals) is made in Redis, exactly, and its answer copied: the first
// request of a tenant costs one round trip, the next ones none.
//
// The price is exactness across replicas: between two syncs each replica
// spends from what the bucket held at the last one, so R replicas can
// overspend a bucket by up to R-1 times that before every copy shows it
// empty. With one replica, or with Redis down, nothing changes.
type syncer struct {
	interval time.Duration
	maxAge   time.Duration // a copy older than this is not used
	view     *memory       // the copies of buckets
	now      func() time.Time
	send     func(ctx context.Context, ops []op, sps []*spendOp) error

	mu        sync.Mutex
	buckets   map[bucketID]*syncBucket
	spends    map[string]*syncSpend
	scheduled bool
	timer     *time.Timer
	closed    bool
}

type syncBucket struct {
	limit   int64
	pending int64     // taken here, not yet sent (negative: given back)
	synced  time.Time // when Redis last answered for it (wall clock)
	usedAt  time.Time // the last decision on it (wall clock)
}

type syncSpend struct {
	day, month         period
	dayNano, monthNano int64 // Redis's at the last sync, plus pending
	pending            int64 // nano-USD charged here, not yet sent
	synced, usedAt     time.Time
}

// syncBatch bounds the buckets sent in one pipeline: a sync of many idle
// tenants' buckets is several round trips, none of them huge.
const syncBatch = 256

// newSyncer returns l's syncer, or nil when l decides every request in
// Redis (limits.sync_interval 0).
func newSyncer(l *Limiter) *syncer {
	iv := l.limits.SyncInterval
	if iv <= 0 {
		return nil
	}
	return &syncer{
		interval: iv,
		// Two intervals, so that a sync running late or slowly (up to the
		// Redis timeout) does not leave the copies unusable.
		maxAge:  2*iv + l.limits.Timeout,
		view:    newMemory(l.now),
		now:     l.now,
		send:    func(ctx context.Context, ops []op, sps []*spendOp) error { return l.redis(ctx, ops, sps, true) },
		buckets: map[bucketID]*syncBucket{},
		spends:  map[string]*syncSpend{},
	}
}

// try decides ops and sp on the copies and reports whether it could: false
// (nothing done) when one of them has no fresh copy.
func (s *syncer) try(ops []op, sp *spendOp) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	for i := range ops {
		if b := s.buckets[ops[i].id]; b == nil || now.Sub(b.synced) > s.maxAge {
			return false
		}
	}
	var rec *syncSpend
	if sp != nil {
		rec = s.spends[sp.tenant]
		if rec == nil || now.Sub(rec.synced) > s.maxAge || rec.day.id != sp.day.id || rec.month.id != sp.month.id {
			return false
		}
	}
	s.view.run(ops, nil)
	for i := range ops {
		b := s.buckets[ops[i].id]
		b.limit, b.usedAt = ops[i].limit, now
		b.pending += ops[i].res.taken
	}
	if rec != nil {
		rec.usedAt = now
		rec.pending += sp.add
		rec.dayNano += sp.add
		rec.monthNano += sp.add
		sp.dayNano, sp.monthNano = rec.dayNano, rec.monthNano
	}
	s.schedule()
	return true
}

// adopt copies what Redis answered for a decision made there.
func (s *syncer) adopt(ops []op, sp *spendOp) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ops {
		o := &ops[i]
		b := s.buckets[o.id]
		if b == nil {
			b = &syncBucket{}
			s.buckets[o.id] = b
		}
		b.limit, b.synced, b.usedAt = o.limit, now, now
		s.view.adopt(o.id, o.limit, o.res.resetAfter, b.pending)
	}
	if sp != nil {
		rec := s.spends[sp.tenant]
		if rec == nil {
			rec = &syncSpend{}
			s.spends[sp.tenant] = rec
		}
		rec.usedAt = now
		rec.adopt(sp, now)
	}
	s.schedule()
}

// adopt sets the copy to what Redis answered for sp, plus what was
// charged here since.
func (rec *syncSpend) adopt(sp *spendOp, now time.Time) {
	rec.day, rec.month, rec.synced = sp.day, sp.month, now
	rec.dayNano, rec.monthNano = sp.dayNano+rec.pending, sp.monthNano+rec.pending
}

// schedule arranges a sync one interval from now unless one is due; called
// with mu held. No goroutine waits between syncs, and none runs once the
// replica is idle.
func (s *syncer) schedule() {
	if s.scheduled || s.closed {
		return
	}
	s.scheduled = true
	s.timer = time.AfterFunc(s.interval, s.sync)
}

// close stops the timer and sends what is pending, once: after it every
// decision is made in Redis.
func (s *syncer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.sync()
}

// sync sends what was taken here since the last sync and refreshes every
// copy used lately (within maxAge) with Redis's answers; copies unused for
// longer are dropped, so the syncs stop soon after the replica goes idle.
// What fails to reach Redis is kept for the next sync (the copies
// meanwhile age, and decisions go to Redis once they are too old).
func (s *syncer) sync() {
	now := time.Now()
	s.mu.Lock()
	var ops []op
	for id, b := range s.buckets {
		if b.pending == 0 && now.Sub(b.usedAt) > s.maxAge {
			delete(s.buckets, id)
			s.view.adopt(id, b.limit, 0, 0)
			continue
		}
		ops = append(ops, op{id: id, limit: b.limit, n: b.pending, atMost: b.pending > 0})
		b.pending = 0
	}
	var sps []*spendOp
	at := s.now()
	day, month := periodsAt(at)
	for tenant, rec := range s.spends {
		if rec.pending == 0 && now.Sub(rec.usedAt) > s.maxAge {
			delete(s.spends, tenant)
			continue
		}
		sps = append(sps, &spendOp{tenant: tenant, at: at, day: day, month: month, add: rec.pending})
		rec.pending = 0
	}
	if len(ops) == 0 && len(sps) == 0 {
		s.scheduled = false
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()

	errs := make([]error, 0, 1)
	for start := 0; start < len(ops) || start == 0; start += syncBatch {
		end := min(start+syncBatch, len(ops))
		var batchSps []*spendOp
		if start == 0 {
			batchSps = sps
		}
		errs = append(errs, s.send(context.Background(), ops[start:end], batchSps))
	}

	now = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ops {
		o := &ops[i]
		b := s.buckets[o.id]
		if b == nil {
			continue
		}
		if errs[i/syncBatch] != nil {
			b.pending += o.n
			continue
		}
		b.synced = now
		s.view.adopt(o.id, b.limit, o.res.resetAfter, b.pending)
	}
	for _, sp := range sps {
		rec := s.spends[sp.tenant]
		if rec == nil {
			continue
		}
		if errs[0] != nil {
			rec.pending += sp.add
			continue
		}
		rec.adopt(sp, now)
	}
	s.scheduled = false
	s.schedule() // the copies stay fresh while used; the syncs stop once none is
}

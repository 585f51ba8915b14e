package limits

import (
	"hash/maphash"
	"sync"
	"time"
)

// period of every bucket: limits are per minute.
const window = time.Minute

// memory keeps buckets and spend in process, with the GCRA redis_rate runs
// in Redis (same parameters, same results), so a replica without Redis
// enforces exactly what a cluster would.
type memory struct {
	now    func() time.Time
	epoch  time.Time
	seed   maphash.Seed
	shards [32]memShard

	spendMu    sync.Mutex
	spend      map[string]*spendRec
	spendSweep int
}

type memShard struct {
	mu    sync.Mutex
	tat   map[bucketID]float64 // theoretical arrival time, seconds since epoch
	sweep int                  // len(tat) that triggers the next sweep
}

type spendRec struct {
	day, month         int32
	dayNano, monthNano int64
}

// minSweep is the map size below which full buckets are not swept.
const minSweep = 1024

func newMemory(now func() time.Time) *memory {
	m := &memory{now: now, epoch: now(), seed: maphash.MakeSeed(), spend: map[string]*spendRec{}, spendSweep: minSweep}
	for i := range m.shards {
		m.shards[i] = memShard{tat: map[bucketID]float64{}, sweep: minSweep}
	}
	return m
}

func (m *memory) run(ops []op, sp *spendOp) {
	now := m.now().Sub(m.epoch).Seconds()
	for i := range ops {
		o := &ops[i]
		s := m.shard(o.id)
		s.mu.Lock()
		tat, ok := s.tat[o.id]
		nt, r := gcra(tat, now, o)
		switch {
		case nt > now:
			s.tat[o.id] = nt
			if !ok && len(s.tat) >= s.sweep {
				s.sweepFull(now)
			}
		case ok:
			delete(s.tat, o.id) // a full bucket is the same as none
		}
		s.mu.Unlock()
		o.res = r
	}
	if sp != nil {
		m.runSpend(sp)
	}
}

func (m *memory) shard(id bucketID) *memShard {
	return &m.shards[maphash.String(m.seed, id.name)%uint64(len(m.shards))]
}

// adopt sets a bucket to a state Redis reported: full again after reset,
// plus taken (what was taken here since, which Redis has not seen; a
// negative taken was given back).
func (m *memory) adopt(id bucketID, limit int64, reset time.Duration, taken int64) {
	now := m.now().Sub(m.epoch).Seconds()
	tat := now + reset.Seconds() + float64(taken)*window.Seconds()/float64(limit)
	s := m.shard(id)
	s.mu.Lock()
	if tat > now {
		s.tat[id] = tat
	} else {
		delete(s.tat, id)
	}
	s.mu.Unlock()
}

// sweepFull drops buckets that have refilled, so callers that come and go
// (pass-through tenants are one per client key) cost no memory once idle.
// Amortised: the next sweep waits until the map has doubled.
func (s *memShard) sweepFull(now float64) {
	for id, tat := range s.tat {
		if tat <= now {
			delete(s.tat, id)
		}
	}
	s.sweep = max(2*len(s.tat), minSweep)
}

// gcra applies o to a bucket whose theoretical arrival time is tat (0 for
// a new bucket) at now, both in seconds, as redis_rate's scripts do: the
// emission interval is window/limit, the burst one window's worth. It
// returns the new arrival time.
func gcra(tat, now float64, o *op) (float64, result) {
	ei := window.Seconds() / float64(o.limit)
	burst := window.Seconds()
	tat = max(tat, now)
	if o.atMost {
		diff := now - (tat - burst)
		remaining := diff / ei
		if remaining < 1 {
			return tat, result{retryAfter: secs(ei - diff), resetAfter: secs(tat - now)}
		}
		cost := float64(o.n)
		if remaining < cost {
			cost, remaining = remaining, 0
		} else {
			remaining -= cost
		}
		nt := tat + ei*cost
		return nt, result{allowed: true, taken: int64(cost), remaining: int64(remaining), retryAfter: -1, resetAfter: secs(nt - now)}
	}
	nt := tat + ei*float64(o.n)
	diff := now - (nt - burst)
	remaining := diff / ei
	// A reservation of exactly the burst leaves diff 0 but for rounding
	// (now+60-60 need not be now): a nanosecond's tolerance admits it.
	if diff > -1e-9 && remaining < 0 {
		remaining = 0
	}
	if remaining < 0 {
		return tat, result{retryAfter: secs(-diff), resetAfter: secs(tat - now)}
	}
	return nt, result{allowed: true, taken: o.n, remaining: int64(remaining), retryAfter: -1, resetAfter: secs(nt - now)}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (m *memory) runSpend(sp *spendOp) {
	m.spendMu.Lock()
	defer m.spendMu.Unlock()
	r := m.spend[sp.tenant]
	if r == nil {
		if sp.add == 0 {
			return // nothing spent: no record needed
		}
		if len(m.spend) >= m.spendSweep {
			m.sweepSpend(sp.month.id)
		}
		r = &spendRec{}
		m.spend[sp.tenant] = r
	}
	if r.day != sp.day.id {
		r.day, r.dayNano = sp.day.id, 0
	}
	if r.month != sp.month.id {
		r.month, r.monthNano = sp.month.id, 0
	}
	r.dayNano += sp.add
	r.monthNano += sp.add
	sp.dayNano, sp.monthNano = r.dayNano, r.monthNano
}

// sweepSpend drops the records of past months; called with spendMu held.
func (m *memory) sweepSpend(month int32) {
	for t, r := range m.spend {
		if r.month != month {
			delete(m.spend, t)
		}
	}
	m.spendSweep = max(2*len(m.spend), minSweep)
}

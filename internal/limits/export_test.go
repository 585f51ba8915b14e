package limits

// SyncNow runs l's background sync (limits.sync_interval) at once, as its
// timer would.
func (l *Limiter) SyncNow() { l.sync.sync() }

// SyncIdle reports whether no sync is scheduled: the replica has sent
// everything and stopped its timer.
func (l *Limiter) SyncIdle() bool {
	l.sync.mu.Lock()
	defer l.sync.mu.Unlock()
	return !l.sync.scheduled
}

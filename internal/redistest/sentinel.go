package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MasterName is the name StartSentinel's sentinels monitor.
const MasterName = "ditto"

// Sentinel timings: a master that stops answering is subjectively down
// after SentinelDownAfter, and a failover that stalls is retried after
// twice sentinelFailoverTimeout, so a failover finishes in a few seconds.
const (
	SentinelDownAfter       = 500 * time.Millisecond
	sentinelFailoverTimeout = 2 * time.Second
)

// Sentinel is a master, its replica and three sentinels monitoring them
// under MasterName, on loopback. Its methods are safe for concurrent use.
type Sentinel struct {
	t testing.TB
	// Master and Replica are the data nodes as started; after a failover
	// the replica is the master (see WaitFailover).
	Master, Replica *Server
	// Sentinels are the three sentinel processes (redis-server --sentinel).
	Sentinels []*Server
}

// StartSentinel starts a master, a replica of it and three sentinels with
// quorum 2 (random ports, temporary directories, no persistence), and waits
// until the replica is in sync and every sentinel knows the replica and the
// two other sentinels, so a failover can be voted. Everything stops when the
// test ends. It skips or fails as Start does without redis-server (the
// sentinels are redis-server in sentinel mode, so no other package is
// needed), and fails the test if the deployment is not ready within 30 s.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin := redisServer(t)
	settleClients(t)
	start := func(conf func(s *Server) error, args ...string) *Server {
		s := &Server{t: t, bin: bin, dir: t.TempDir(), args: args}
		t.Cleanup(s.stop)
		prepare := func() error { return nil }
		if conf != nil {
			prepare = func() error { return conf(s) }
		}
		if err := s.startFree(prepare); err != nil {
			t.Fatalf("redistest: sentinel deployment: %v", err)
		}
		return s
	}
	d := &Sentinel{t: t}
	d.Master = start(nil, "--repl-diskless-sync-delay", "0")
	d.Replica = start(nil, "--replicaof", "127.0.0.1", strconv.Itoa(d.Master.port), "--repl-diskless-sync-delay", "0")
	for range 3 {
		d.Sentinels = append(d.Sentinels, start(func(s *Server) error {
			// Sentinels rewrite their config file: each needs its own.
			s.conf = filepath.Join(s.dir, "sentinel.conf")
			conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 2\n"+
				"sentinel down-after-milliseconds %[1]s %[3]d\n"+
				"sentinel failover-timeout %[1]s %[4]d\n"+
				"sentinel parallel-syncs %[1]s 1\n",
				MasterName, d.Master.port, SentinelDownAfter.Milliseconds(), sentinelFailoverTimeout.Milliseconds())
			return os.WriteFile(s.conf, []byte(conf), 0o600)
		}, "--sentinel"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterReady)
	defer cancel()
	err := poll(ctx, func() error {
		info, err := d.Replica.adminClient().Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica not in sync")
		}
		for _, s := range d.Sentinels {
			c := s.adminClient()
			replicas, err := c.Do(ctx, "SENTINEL", "REPLICAS", MasterName).Slice()
			if err != nil {
				return err
			}
			peers, err := c.Do(ctx, "SENTINEL", "SENTINELS", MasterName).Slice()
			if err != nil {
				return err
			}
			if len(replicas) != 1 || len(peers) != 2 {
				return fmt.Errorf("sentinel %s knows %d replicas and %d sentinels, want 1 and 2", s.Addr(), len(replicas), len(peers))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: sentinel deployment not ready: %v", err)
	}
	return d
}

// URL returns the Sentinel URL store.NewRedis reads:
// "redis://SENTINEL?master_name=ditto&addr=SENTINEL&addr=SENTINEL".
func (d *Sentinel) URL() string {
	return "redis://" + d.Sentinels[0].Addr() + "?master_name=" + MasterName +
		"&addr=" + d.Sentinels[1].Addr() + "&addr=" + d.Sentinels[2].Addr()
}

// MasterAddr returns the master's address as the first sentinel reports it.
func (d *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	addr, err := d.Sentinels[0].adminClient().Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName).StringSlice()
	if err != nil {
		return "", err
	}
	if len(addr) != 2 {
		return "", fmt.Errorf("GET-MASTER-ADDR-BY-NAME = %q", addr)
	}
	return addr[0] + ":" + addr[1], nil
}

// WaitFailover waits until every sentinel names next as the master and next
// reports the master role, after old was killed. It returns how long it
// waited and fails the test after 30 s.
func (d *Sentinel) WaitFailover(old, next *Server) time.Duration {
	d.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), clusterReady)
	defer cancel()
	err := poll(ctx, func() error {
		for _, s := range d.Sentinels {
			addr, err := s.adminClient().Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName).StringSlice()
			if err != nil {
				return err
			}
			if len(addr) != 2 || addr[0]+":"+addr[1] != next.Addr() {
				return fmt.Errorf("sentinel %s names %q as master", s.Addr(), addr)
			}
		}
		role, err := next.adminClient().Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s has role %v", next.Addr(), role)
		}
		return nil
	})
	if err != nil {
		d.t.Fatalf("redistest: no failover from %s to %s within %v: %v", old.Addr(), next.Addr(), clusterReady, err)
	}
	return time.Since(start)
}

package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/dittocache/ditto/internal/redistest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// quiet drops go-redis's log lines (dial failures after a kill).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	goleak.VerifyTestMain(m)
}

func TestKillRestart(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET = %v", err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING after Kill = nil, want an error")
	}
	addr := s.Addr()
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("Addr after Restart = %s, want %s", s.Addr(), addr)
	}
	// Fresh data set: nothing was persisted.
	if n, err := s.Client().Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after Restart = %d, %v; want 0, nil", n, err)
	}
}

func TestTwoServers(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a.URL() == b.URL() {
		t.Fatalf("two servers share %s", a.URL())
	}
}

func TestCluster(t *testing.T) {
	start := time.Now()
	c := redistest.StartCluster(t)
	t.Logf("cluster of 6 ready in %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()
	masters := c.Masters(ctx)
	if len(masters) != 3 {
		t.Fatalf("Masters = %d nodes, want 3", len(masters))
	}
	cl := c.Client()
	if err := cl.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatalf("SET through the cluster client = %v", err)
	}
	m := c.MasterFor(ctx, "k")
	// Replication is asynchronous: wait until the key's replica has it
	// (a replica still resyncing with its master would otherwise lose it).
	if n, err := m.Client().Do(ctx, "WAIT", 1, 10000).Int(); err != nil || n < 1 {
		t.Fatalf("WAIT 1 on the key's master = %d, %v; want its replica to acknowledge", n, err)
	}
	c.Kill(m)
	took := c.WaitFailover(m)
	t.Logf("failover of %s took %v", m.Addr(), took.Round(time.Millisecond))
	if got := c.Masters(ctx); len(got) != 3 {
		t.Errorf("Masters after failover = %d nodes, want 3", len(got))
	}
	if n := c.MasterFor(ctx, "k"); n == m {
		t.Errorf("MasterFor(k) after failover = the killed node %s", m.Addr())
	}
	// The replica had the key (WAIT above): the write survived the failover.
	cl.ReloadState(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := cl.Get(ctx, "k").Result()
		if err == nil {
			if v != "v" {
				t.Errorf("GET k after failover = %q, want v", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET k after failover = %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSentinel(t *testing.T) {
	start := time.Now()
	d := redistest.StartSentinel(t)
	t.Logf("sentinel deployment ready in %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()
	if addr, err := d.MasterAddr(ctx); err != nil || addr != d.Master.Addr() {
		t.Fatalf("MasterAddr = %q, %v; want %s", addr, err, d.Master.Addr())
	}
	if err := d.Master.Client().Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	d.Master.Kill()
	took := d.WaitFailover(d.Master, d.Replica)
	t.Logf("sentinel failover took %v", took.Round(time.Millisecond))
	if v, err := d.Replica.Client().Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET k on the promoted replica = %q, %v; want v", v, err)
	}
}

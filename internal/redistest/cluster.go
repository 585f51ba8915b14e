package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of StartCluster's nodes: a
// master that stops answering is marked failed after about this long, and
// its replica takes over within about two of these.
const ClusterNodeTimeout = 1000 * time.Millisecond

// clusterReady bounds forming a cluster and waiting for a failover.
const clusterReady = 30 * time.Second

// Cluster is a Redis Cluster of three masters, each with one replica, on
// loopback. Its methods are safe for concurrent use.
type Cluster struct {
	t     testing.TB
	nodes []*Server // nodes[i+3] started as the replica of nodes[i]

	mu   sync.Mutex
	dead map[*Server]bool
}

// StartCluster starts six redis-server processes in cluster mode (random
// ports, temporary directories, no persistence), joins them with CLUSTER
// MEET, gives the three masters a third of the slots each and makes each
// other node a replica of one master, then waits until every node reports
// cluster_state:ok and every replica is in sync. Everything stops when the
// test ends. It skips or fails as Start does without redis-server, and fails
// the test if the cluster is not ready within 30 s.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := redisServer(t)
	settleClients(t)
	c := &Cluster{t: t, dead: map[*Server]bool{}}
	for range 6 {
		s := &Server{t: t, bin: bin, dir: t.TempDir()}
		t.Cleanup(s.stop)
		err := s.startFree(func() error {
			bus, err := freePort()
			if err != nil {
				return err
			}
			s.bus = bus
			s.args = []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout / time.Millisecond)),
				// An explicit bus port: PORT+10000 may be out of range.
				"--cluster-port", strconv.Itoa(bus),
				// Replicas sync at once instead of waiting 5 s for others.
				"--repl-diskless-sync-delay", "0",
			}
			return nil
		})
		if err != nil {
			t.Fatalf("redistest: cluster node: %v", err)
		}
		c.nodes = append(c.nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterReady)
	defer cancel()
	if err := c.form(ctx); err != nil {
		t.Fatalf("redistest: form cluster: %v", err)
	}
	return c
}

// form joins the nodes, assigns slots and replicas, and waits for them.
func (c *Cluster) form(ctx context.Context) error {
	clients := make([]*redis.Client, len(c.nodes))
	ids := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		clients[i] = s.adminClient()
		id, err := clients[i].Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return fmt.Errorf("CLUSTER MYID on %s: %w", s.Addr(), err)
		}
		ids[i] = id
	}
	first := c.nodes[0]
	for i := 1; i < len(c.nodes); i++ {
		if err := clients[i].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", first.port, first.bus).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET from %s: %w", c.nodes[i].Addr(), err)
		}
	}
	ranges := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for i, r := range ranges {
		if err := clients[i].ClusterAddSlotsRange(ctx, r[0], r[1]).Err(); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE on %s: %w", c.nodes[i].Addr(), err)
		}
	}
	// A replica can only follow a master it knows.
	if err := poll(ctx, func() error {
		for i, cl := range clients {
			nodes, err := cl.ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			if n := strings.Count(strings.TrimSpace(nodes), "\n") + 1; n != len(c.nodes) || strings.Contains(nodes, "handshake") {
				return fmt.Errorf("%s knows %d nodes, want %d", c.nodes[i].Addr(), n, len(c.nodes))
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for i := 3; i < 6; i++ {
		if err := clients[i].ClusterReplicate(ctx, ids[i-3]).Err(); err != nil {
			return fmt.Errorf("CLUSTER REPLICATE on %s: %w", c.nodes[i].Addr(), err)
		}
	}
	return poll(ctx, func() error {
		for i, cl := range clients {
			if err := stateOK(ctx, cl); err != nil {
				return fmt.Errorf("%s: %w", c.nodes[i].Addr(), err)
			}
			nodes, err := cl.ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			if n := strings.Count(nodes, "slave"); n != 3 {
				return fmt.Errorf("%s sees %d replicas, want 3", c.nodes[i].Addr(), n)
			}
		}
		for i := 3; i < 6; i++ {
			info, err := clients[i].Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("replica %s not in sync", c.nodes[i].Addr())
			}
		}
		return nil
	})
}

// stateOK checks CLUSTER INFO for cluster_state:ok.
func stateOK(ctx context.Context, c *redis.Client) error {
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return fmt.Errorf("cluster_state not ok")
	}
	return nil
}

// poll calls f every 20 ms until it succeeds or ctx ends, and then returns
// f's last error.
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Nodes returns the six nodes: Nodes()[i+3] started as the replica of
// Nodes()[i]. Roles change after a failover; see Masters.
func (c *Cluster) Nodes() []*Server { return append([]*Server(nil), c.nodes...) }

// Addrs returns every node's address.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// URL returns a cluster URL naming every node as a seed, in the form
// store.NewRedis reads: "redis://HOST:PORT?addr=HOST:PORT&addr=...".
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	return "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
}

// Masters returns the live nodes that are masters now, by ROLE.
func (c *Cluster) Masters(ctx context.Context) []*Server {
	c.t.Helper()
	var out []*Server
	for _, s := range c.live() {
		role, err := s.adminClient().Do(ctx, "ROLE").Slice()
		if err != nil {
			c.t.Fatalf("redistest: ROLE on %s: %v", s.Addr(), err)
		}
		if len(role) > 0 && role[0] == "master" {
			out = append(out, s)
		}
	}
	return out
}

// MasterFor returns the live node that serves key's slot now, by CLUSTER
// SLOTS on a live node.
func (c *Cluster) MasterFor(ctx context.Context, key string) *Server {
	c.t.Helper()
	live := c.live()
	cl := live[0].adminClient()
	slot, err := cl.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
	}
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER SLOTS: %v", err)
	}
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
			for _, s := range live {
				if s.Addr() == r.Nodes[0].Addr {
					return s
				}
			}
		}
	}
	c.t.Fatalf("redistest: no live master serves slot %d", slot)
	return nil
}

// Kill stops s with SIGKILL, like a crashed host, and waits until it has
// exited. The cluster notices after about ClusterNodeTimeout.
func (c *Cluster) Kill(s *Server) {
	c.mu.Lock()
	c.dead[s] = true
	c.mu.Unlock()
	s.Kill()
}

func (c *Cluster) live() []*Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Server
	for _, s := range c.nodes {
		if !c.dead[s] {
			out = append(out, s)
		}
	}
	return out
}

// WaitFailover waits until the killed master dead has been replaced: a live
// node serves every slot as master and every live node reports
// cluster_state:ok. It returns how long it waited and fails the test after
// 30 s.
func (c *Cluster) WaitFailover(dead *Server) time.Duration {
	c.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), clusterReady)
	defer cancel()
	live := c.live()
	liveAddr := map[string]bool{}
	for _, s := range live {
		liveAddr[s.Addr()] = true
	}
	err := poll(ctx, func() error {
		for _, s := range live {
			cl := s.adminClient()
			if err := stateOK(ctx, cl); err != nil {
				return fmt.Errorf("%s: %w", s.Addr(), err)
			}
			slots, err := cl.ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			covered := 0
			for _, r := range slots {
				if len(r.Nodes) == 0 || !liveAddr[r.Nodes[0].Addr] {
					return fmt.Errorf("%s: slots %d-%d not served by a live master", s.Addr(), r.Start, r.End)
				}
				covered += int(r.End - r.Start + 1)
			}
			if covered != 16384 {
				return fmt.Errorf("%s: %d slots covered", s.Addr(), covered)
			}
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("redistest: no failover of %s within %v: %v", dead.Addr(), clusterReady, err)
	}
	return time.Since(start)
}

// Client returns a cluster client seeded with every node, closed when the
// test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DisableIdentity: true})
	c.t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Command dittobench benchmarks Ditto against baselines it builds itself.
//
//	dittobench run [flags]       every scenario, one report (benchmarks/run.sh calls this)
//	dittobench load [flags]      one load against any OpenAI-compatible base URLs, side by side
//	dittobench upstream [flags]  the simulated OpenAI upstream
//	dittobench baseline [flags]  a baseline server: memory, redis, forward or reverseproxy
//
// All load goes to loopback addresses, is bounded in time and count, and
// stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dittocache/ditto/benchmarks/baseline"
	"github.com/dittocache/ditto/benchmarks/upstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  dittobench run [flags]       run every scenario and print (or -write) the report
  dittobench load [flags]      send one load to -target URLs and compare them
  dittobench upstream [flags]  serve the simulated OpenAI upstream
  dittobench baseline [flags]  serve a baseline: -kind memory|redis|forward|reverseproxy
Run "dittobench CMD -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runAll(ctx, args[1:], stdout, stderr)
	case "load":
		err = loadCmd(ctx, args[1:], stdout)
	case "upstream":
		err = upstreamCmd(ctx, args[1:], stdout)
	case "baseline":
		err = baselineCmd(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "dittobench: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "dittobench:", err)
		return 1
	}
	return 0
}

// upstreamFlags registers the simulated upstream's settings on fs.
func upstreamFlags(fs *flag.FlagSet) *upstream.Config {
	cfg := &upstream.Config{}
	fs.DurationVar(&cfg.Latency.Base, "latency", 0, "delay before the answer (time to first token)")
	fs.DurationVar(&cfg.Latency.Jitter, "jitter", 0, "spread of the delay: standard deviation (normal) or half-width (uniform)")
	fs.Func("dist", "latency distribution: fixed, uniform or normal (default normal when -jitter is set)", func(s string) error {
		switch d := upstream.Dist(s); d {
		case upstream.Fixed, upstream.Uniform, upstream.Normal:
			cfg.Latency.Dist = d
			return nil
		}
		return fmt.Errorf("unknown distribution %q", s)
	})
	fs.IntVar(&cfg.Tokens, "tokens", upstream.DefaultTokens, "completion tokens per answer; also the number of content chunks in a stream")
	fs.DurationVar(&cfg.ChunkDelay, "chunk-delay", 0, "pause between stream chunks")
	return cfg
}

func upstreamCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	cfg := upstreamFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serve(ctx, *addr, upstream.New(*cfg), stdout)
}

func baselineCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	kind := fs.String("kind", "memory", "memory (a), redis (b), forward (c) or reverseproxy (bare httputil.ReverseProxy)")
	origin := fs.String("upstream", "", "upstream origin, e.g. http://127.0.0.1:9000 (paths are forwarded unchanged)")
	redisURL := fs.String("redis", "", "redis:// URL for -kind redis")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *origin == "" {
		return errors.New("baseline: -upstream is required")
	}
	fwd := baseline.NewForwarder(*origin, 0)
	fwd.ErrorLog = log.New(os.Stderr, "baseline: ", log.LstdFlags|log.Lmicroseconds)
	var h http.Handler
	switch *kind {
	case "memory":
		h = baseline.NewMemory(fwd)
	case "redis":
		opt, err := redis.ParseURL(*redisURL)
		if err != nil {
			return fmt.Errorf("baseline: -redis: %w", err)
		}
		opt.DisableIdentity = true
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		h = baseline.NewRedis(fwd, rdb, "bench:b:")
	case "forward":
		h = fwd
	case "reverseproxy":
		rp, err := baseline.NewReverseProxy(*origin)
		if err != nil {
			return err
		}
		h = rp
	default:
		return fmt.Errorf("baseline: unknown -kind %q", *kind)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", h)
	return serve(ctx, *addr, mux, stdout)
}

// serve listens on addr, prints "listening http://ADDR" as its first line
// (the driver reads it), and serves until ctx is done.
func serve(ctx context.Context, addr string, h http.Handler, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

//go:build dittoprof

// Command dittoprof is Ditto's serve path (as in cmd/ditto) plus the
// net/http/pprof endpoints on a separate loopback port, for profiling under
// benchmark load. It is excluded from normal builds because it mirrors the
// wiring of cmd/ditto, which may move on; build it when you need it:
//
//	go build -tags dittoprof -o /tmp/dittoprof ./benchmarks/cmd/dittoprof
//	DITTO_PPROF_ADDR=127.0.0.1:6060 OPENAI_BASE_URL=… /tmp/dittoprof &
//	go tool pprof -top 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
//
// It reads the same environment variables as ditto, plus DITTO_PPROF_ADDR
// (default 127.0.0.1:6060).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/gateway"
	"github.com/dittocache/ditto/providers/registry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dittoprof:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	pprofAddr := os.Getenv("DITTO_PPROF_ADDR")
	if pprofAddr == "" {
		pprofAddr = "127.0.0.1:6060"
	}
	pln, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		return fmt.Errorf("pprof listen: %w", err)
	}
	go http.Serve(pln, http.DefaultServeMux)

	cfg, err := configs.Load(os.Getenv)
	if err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	provs, err := registry.Build(cfg, nil)
	if err != nil {
		return err
	}
	deps := gateway.Deps{Providers: make(map[string]gateway.Provider, len(provs)), Logger: log}
	for name, p := range provs {
		deps.Providers[name] = p
	}
	srv, err := gateway.New(ctx, cfg, deps)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("dittoprof listening", "addr", ln.Addr().String(), "pprof", pln.Addr().String())
	return srv.Serve(ctx, ln)
}

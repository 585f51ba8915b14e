// Command ditto runs the Ditto caching gateway.
//
//	ditto [serve]        start the gateway (configured by env vars and DITTO_CONFIG;
//	                     SIGHUP reloads routes, providers, keys, limits and prices)
//	ditto version        print the version
//	ditto key FILE [B]   print the canonical form and cache key of a request body,
//	                     or explain why two request bodies do or do not share a key
//	ditto healthcheck    GET /healthz on the listen address; exit 0 if healthy
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/gateway"
	"github.com/dittocache/ditto/internal/gcfloor"
	"github.com/dittocache/ditto/internal/telemetry"
	"github.com/dittocache/ditto/providers/registry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if err := serve(ctx, getenv, stderr); err != nil {
			fmt.Fprintln(stderr, "ditto:", err)
			return 1
		}
		return 0
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "ditto", version)
		return 0
	case "key":
		return keyCmd(args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheckCmd(ctx, args, getenv, stdout, stderr)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ditto: unknown command %q\n%s", cmd, usage)
		return 2
	}
}

const usage = `usage:
  ditto [serve]         start the gateway (env vars and DITTO_CONFIG configure it)
  ditto version         print the version
  ditto key FILE [FILE2] print the canonical form and cache key of a request body;
                        with two files, explain why they do or do not share a key
  ditto healthcheck [-addr host:port] [-path /healthz] [-timeout 2s]
                        GET /healthz on the listen address (a wildcard host
                        dials 127.0.0.1); exit 0 on 200, 1 otherwise
`

func newLogger(cfg *configs.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func serve(ctx context.Context, getenv func(string) string, logw io.Writer) error {
	cfg, err := configs.Load(getenv)
	if err != nil {
		return err
	}
	lw := newLogWriter(logw, 200*time.Millisecond)
	defer lw.Close()
	log := newLogger(cfg, lw)
	if gcfloor.Enabled(getenv) {
		// A small live heap is not collected several times a second
		// (internal/gcfloor); GOGC in the environment turns this off.
		defer gcfloor.Start(gcfloor.DefaultFloor)()
	}
	shutdownTelemetry, err := telemetry.Setup(ctx, getenv, version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTelemetry(sctx); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	if addr := getenv("DITTO_PPROF_ADDR"); addr != "" {
		if err := startPprof(ctx, addr, log); err != nil {
			return err
		}
	}
	provs, err := registry.Build(cfg, nil)
	if err != nil {
		return err
	}
	srv, err := gateway.New(ctx, cfg, gateway.Deps{Providers: provs, Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	reloadOnHangup(ctx, srv, getenv, log)
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	store := "memory"
	if cfg.Cache.Redis.URL != "" {
		store = "redis"
	}
	log.Info("ditto listening", "addr", ln.Addr().String(), "version", version, "store", store)
	if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("ditto stopped")
	return nil
}

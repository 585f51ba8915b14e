package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/gateway"
	"github.com/dittocache/ditto/providers/registry"
)

// reloadOnHangup reloads the configuration (DITTO_CONFIG and the
// environment, as at start) on every SIGHUP until ctx ends.
func reloadOnHangup(ctx context.Context, srv *gateway.Server, getenv func(string) string, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(srv, getenv, log)
			}
		}
	}()
}

// reload reads the configuration again and applies it (gateway.Reload); a
// file that does not load or validate changes nothing. Either way one log
// line says what happened.
func reload(srv *gateway.Server, getenv func(string) string, log *slog.Logger) bool {
	cfg, err := configs.Load(getenv)
	if err == nil {
		var changed []string
		provs, berr := registry.Build(cfg, nil)
		if err = berr; err == nil {
			changed, err = srv.Reload(cfg, provs)
		}
		if err == nil {
			if len(changed) > 0 {
				log.Warn("config reload: these sections take effect only on restart; their running values are kept", "sections", changed)
			}
			log.Info("config reloaded", "result", "ok", "routes", len(cfg.Routes), "keys", len(cfg.Auth.Keys))
			return true
		}
	}
	log.Error("config reload failed; the running config is kept", "result", "failed", "err", err)
	return false
}

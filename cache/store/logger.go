package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// SetRedisLogger routes go-redis's own log lines (dial failures, pool
// events) to l at debug level instead of stderr. go-redis keeps one global
// logger, so this affects every client in the process. Its lines carry
// addresses, never passwords.
func SetRedisLogger(l *slog.Logger) {
	redis.SetLogger(slogAdapter{l})
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(ctx context.Context, format string, v ...any) {
	a.l.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

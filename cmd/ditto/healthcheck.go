package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/dittocache/ditto/configs"
)

// healthcheckCmd is the container image's HEALTHCHECK: GET /healthz on the
// gateway's own listen address (server.addr, DITTO_ADDR, as serve reads
// it), exit 0 on 200 and 1 otherwise. It lets an image without a shell or
// curl probe itself.
//
//	ditto healthcheck [-addr host:port] [-path /healthz] [-timeout 2s]
func healthcheckCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "address to probe (default: the configured listen address)")
	path := fs.String("path", "/healthz", "path to GET (/readyz also checks the store)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *timeout <= 0 || len(*path) == 0 || (*path)[0] != '/' {
		fmt.Fprint(stderr, "usage: ditto healthcheck [-addr host:port] [-path /healthz] [-timeout 2s]\n")
		return 2
	}
	if *addr == "" {
		cfg, err := configs.Load(getenv)
		if err != nil {
			fmt.Fprintln(stderr, "ditto healthcheck:", err)
			return 1
		}
		*addr = cfg.Server.Addr
	}
	target, err := probeAddr(*addr)
	if err != nil {
		fmt.Fprintln(stderr, "ditto healthcheck:", err)
		return 1
	}
	url := "http://" + target + *path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(stderr, "ditto healthcheck:", err)
		return 1
	}
	// No proxy (the environment's HTTP_PROXY must not intercept a probe of
	// ourselves) and no keep-alive (the process exits right after).
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "ditto healthcheck:", err)
		return 1
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "ditto healthcheck: GET %s: %s\n", url, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return 0
}

// probeAddr turns a listen address into one to dial: a wildcard host
// (0.0.0.0, ::, or none) listens on every interface, loopback included, so
// the probe dials 127.0.0.1 (a Go listener on :: accepts IPv4 too).
func probeAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("address %q is not host:port: %w", listen, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("address %q has no fixed port to probe", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dittocache/ditto/cache"
	"github.com/dittocache/ditto/configs"
	"github.com/dittocache/ditto/gateway"
)

func keyCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cfg, err := configs.Load(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "ditto:", err)
		return 1
	}
	var exps []*cache.Explanation
	for _, path := range args {
		body, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(stderr, "ditto:", err)
			return 1
		}
		e, err := gateway.Explain(cfg, cfg.Cache.Namespace, body)
		if err != nil {
			fmt.Fprintf(stderr, "ditto: %s: %v\n", path, err)
			return 1
		}
		exps = append(exps, e)
	}
	if len(exps) == 1 {
		fmt.Fprintf(stdout, "key:       %s\nroute:     %s\ndigest:    %s\ncanonical: %s\n", exps[0].Key, exps[0].Route, exps[0].Digest, exps[0].Canonical)
		return 0
	}
	a, b := exps[0], exps[1]
	fmt.Fprintf(stdout, "A: %s\nB: %s\n", a.Key, b.Key)
	diffs := cache.Compare(a, b)
	if len(diffs) == 0 {
		fmt.Fprintln(stdout, "same key: the requests are equivalent after normalization")
		return 0
	}
	fmt.Fprintln(stdout, "different keys:")
	for _, d := range diffs {
		fmt.Fprintln(stdout, "  "+d)
	}
	return 0
}

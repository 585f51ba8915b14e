package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
)

// checkCompose loads the project as `docker compose config` does: schema
// validation, interpolation (unset variables named in the file must have
// defaults or come from the environment), and service references.
func checkCompose(file string, stdout io.Writer) error {
	ctx := context.Background()
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithOsEnv,
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithDotEnv,
		cli.WithName("ditto"),
	)
	if err != nil {
		return err
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return err
	}
	names := p.ServiceNames()
	sort.Strings(names)
	for _, n := range names {
		s := p.Services[n]
		for _, v := range s.Volumes {
			if v.Type == "bind" {
				if _, err := os.Stat(v.Source); err != nil {
					return fmt.Errorf("service %s mounts %s: %w", n, v.Source, err)
				}
			}
		}
		replicas := 1
		if s.Deploy != nil && s.Deploy.Replicas != nil {
			replicas = *s.Deploy.Replicas
		}
		fmt.Fprintf(stdout, "ok   service %s (image %q, %d replica(s))\n", n, s.Image, replicas)
	}
	return nil
}

// Command check validates Ditto's deployment files offline, for CI where
// no cluster, container engine or schema download is available.
//
//	check k8s FILE...     strict-decode rendered manifests into the Kubernetes
//	                      API types (unknown or misspelled fields and wrong
//	                      types fail) and cross-check the chart's references
//	check configmap FILE KEY  print data[KEY] of the first ConfigMap in FILE
//	                      (the chart's Ditto config, to start the gateway with)
//	check compose FILE    load a compose file the way docker compose does
//	                      (compose-spec schema, interpolation, references)
//
// It is its own module so the gateway's go.mod carries no Kubernetes or
// compose dependencies.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "usage: check k8s FILE... | check compose FILE")
		return 2
	}
	var err error
	switch args[0] {
	case "k8s":
		err = checkK8s(args[1:], stdout)
	case "configmap":
		if len(args) != 3 {
			err = fmt.Errorf("usage: check configmap FILE KEY")
			break
		}
		err = printConfigMap(args[1], args[2], stdout)
	case "compose":
		err = checkCompose(args[1], stdout)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(stderr, "check:", err)
		return 1
	}
	return 0
}

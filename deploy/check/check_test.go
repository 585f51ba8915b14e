package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodManifests = `
apiVersion: v1
kind: ConfigMap
metadata: {name: d}
data: {config.yaml: ""}
---
# Source: a comment-only document
---
apiVersion: v1
kind: Service
metadata: {name: d}
spec:
  selector: {app: d}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
        - name: d
          image: ditto:1
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          volumeMounts: [{name: config, mountPath: /etc/ditto}]
      volumes: [{name: config, configMap: {name: d}}]
`

func TestCheckK8s(t *testing.T) {
	tests := []struct {
		name string
		give string // goodManifests with one replacement: old=>new
		want string // "" for success, else a substring of the error
	}{
		{name: "valid", give: "", want: ""},
		{name: "misspelled field", give: "readinessProbe:=>readinessprobe:", want: `unknown field "spec.template.spec.containers[0].readinessprobe"`},
		{name: "wrong type", give: "containerPort: 8080=>containerPort: http", want: "containerPort"},
		{name: "service selects nothing", give: "selector: {app: d}=>selector: {app: x}", want: "Service d selects no pod template"},
		{name: "probe port undeclared", give: "port: http}}=>port: web}}", want: `names port "web"`},
		{name: "config map missing", give: "configMap: {name: d}=>configMap: {name: other}", want: `ConfigMap "other", which is not rendered`},
		{name: "selector mismatch", give: "matchLabels: {app: d}=>matchLabels: {app: e}", want: "selector does not match"},
		{name: "no image tag", give: "image: ditto:1=>image: \"ditto:\"", want: "no image tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := goodManifests
			if tt.give != "" {
				old, repl, _ := strings.Cut(tt.give, "=>")
				if !strings.Contains(doc, old) {
					t.Fatalf("replacement %q does not apply", old)
				}
				doc = strings.Replace(doc, old, repl, 1)
			}
			f := filepath.Join(t.TempDir(), "m.yaml")
			if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			err := checkK8s([]string{f}, &bytes.Buffer{})
			if tt.want == "" && err != nil {
				t.Errorf("checkK8s(%s) = %v, want nil", tt.name, err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("checkK8s(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestCheckCompose(t *testing.T) {
	dir := t.TempDir()
	good := "services:\n  a:\n    image: redis:7\n    depends_on: [b]\n  b:\n    image: redis:7\n"
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "valid", give: good, want: ""},
		{name: "unknown key", give: strings.Replace(good, "image: redis:7\n    depends_on", "imagee: redis:7\n    depends_on", 1), want: "imagee"},
		{name: "missing dependency", give: strings.Replace(good, "[b]", "[c]", 1), want: "c"},
		{name: "missing bind mount", give: good + "    volumes: [\"./nope.conf:/etc/x.conf:ro\"]\n", want: "nope.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, "compose.yaml")
			if err := os.WriteFile(f, []byte(tt.give), 0o600); err != nil {
				t.Fatal(err)
			}
			err := checkCompose(f, &bytes.Buffer{})
			if tt.want == "" && err != nil {
				t.Errorf("checkCompose(%s) = %v, want nil", tt.name, err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("checkCompose(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
}

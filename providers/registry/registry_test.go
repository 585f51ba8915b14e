package registry

import (
	"testing"

	"github.com/dittocache/ditto/configs"
)

func TestBuildEveryType(t *testing.T) {
	cfg := configs.Default()
	for _, typ := range configs.ProviderTypes {
		cfg.Providers["p-"+typ] = configs.Provider{Type: typ, BaseURL: "http://127.0.0.1:1"}
	}
	got, err := Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name := range cfg.Providers {
		if got[name] == nil {
			t.Errorf("no adapter built for %s", name)
		}
	}
	cfg.Providers["bad"] = configs.Provider{Type: "nope"}
	if _, err := Build(cfg, nil); err == nil {
		t.Error("Build accepted an unknown provider type")
	}
}

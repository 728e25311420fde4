package sdk

import (
	"slices"
	"testing"
)

// The hub's own environment (database URL, secrets) does not reach a
// plugin started without an explicit Cmd.Env; what a plugin needs to run
// and reach the network does.
func TestAllowedEnv(t *testing.T) {
	t.Setenv("TETHER_DATABASE_URL", "postgres://tether:secret@db/tether")
	t.Setenv("HTTPS_PROXY", "http://proxy.internal:3128")
	t.Setenv("TZ", "Europe/Paris")
	env := allowedEnv()
	for _, want := range []string{"HTTPS_PROXY=http://proxy.internal:3128", "TZ=Europe/Paris"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	for _, kv := range env {
		if kv == "TETHER_DATABASE_URL=postgres://tether:secret@db/tether" {
			t.Error("the hub's database URL leaks into the plugin's environment")
		}
	}
}

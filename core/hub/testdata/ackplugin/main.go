// Command ackplugin acknowledges every event without doing anything, so the
// delivery benchmarks measure the hub's side of a real plugin process. Its
// one page, /plugins/ack/session?id=N, reads a session through the host API,
// which lets tests check what the host lets a plugin see.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tetherhq/tether/sdk"
)

type plugin struct{ host sdk.Host }

var (
	_ sdk.EventHandler = (*plugin)(nil)
	_ sdk.HTTPHandler  = (*plugin)(nil)
	_ sdk.Provisioner  = (*plugin)(nil)
)

func (*plugin) Describe() sdk.Description {
	return sdk.Description{ID: "ack", Name: "Ack", Version: "1.0.0"}
}

func (p *plugin) Provision(_ context.Context, h sdk.Host) error {
	p.host = h
	return nil
}

func (*plugin) HandleEvent(context.Context, sdk.Event) sdk.Result { return sdk.Acked() }

func (p *plugin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		http.Error(w, "id: not a number", http.StatusBadRequest)
		return
	}
	s, err := p.host.Session(r.Context(), id, sdk.SessionOptions{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": s.ID, "state": s.State, "kind": s.Kind})
}

func main() { sdk.Serve(&plugin{}) }

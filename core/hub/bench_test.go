package hub_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/hub"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/pluginhost/pluginsettings"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk/plugintest"
)

// ackHub is a hub with the ack plugin (core/hub/testdata/ackplugin, a real
// plugin process) installed, enabled for the whole organisation and running,
// and sessions to hang events on.
func ackHub(tb testing.TB, db *bun.DB, sessionCount int) (*hub.Hub, []int64) {
	tb.Helper()
	ctx := context.Background()
	h := newHub(tb, db)
	bin := plugintest.Build(tb, "github.com/tetherhq/tether/core/hub/testdata/ackplugin")
	src := tb.TempDir()
	for name, from := range map[string]string{"ackplugin": bin, "plugin.json": "testdata/ackplugin/plugin.json"} {
		b, err := os.ReadFile(from)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := h.Plugins.InstallDir(ctx, src); err != nil {
		tb.Fatal(err)
	}
	if _, err := h.Plugins.Enable(ctx, "ack"); err != nil {
		tb.Fatal(err)
	}
	root, err := h.Org.RootID(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := h.Plugins.SaveSettings(ctx, pluginsettings.SaveRequest{PluginID: "ack", UnitID: root,
		Mode: settings.ModeUnit, Enabled: true, ActorIsMaster: true}); err != nil {
		tb.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !h.Plugins.Supervisor.Ready("ack"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("the ack plugin did not start")
		}
	}
	_, tech := groupWithTechnician(tb, h)
	var ids []int64
	for range sessionCount {
		c, err := h.Sessions.CreatePrivate(ctx, org.Actor{ID: tech, Role: org.KindTechnician}, sessions.PrivateInput{})
		if err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, c.Session.ID)
	}
	return h, ids
}

// newHub is a hub on db with cheap password hashing and quick plugin polls.
func newHub(tb testing.TB, db *bun.DB) *hub.Hub {
	return newHubTuned(tb, db, hub.PluginTuning{PollInterval: 20 * time.Millisecond})
}

// newHubTuned is a hub on db with cheap password hashing and the plugin
// host tuned so (the zero value: as the binary runs it).
func newHubTuned(tb testing.TB, db *bun.DB, plugins hub.PluginTuning) *hub.Hub {
	tb.Helper()
	fast := auth.Hasher{Params: auth.FastParams()}
	h, err := hub.New(context.Background(), hub.Config{DB: db, Log: hclog.NewNullLogger(), Registry: prometheus.NewRegistry(),
		AdminEmail: "root@example.com", AdminPassword: "Bench-Admin-Pw-1!", Hasher: &fast, DataDir: tb.TempDir(),
		Plugins: plugins})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Shutdown(context.Background()) })
	return h
}

var groupCount atomic.Int64

// groupWithTechnician adds a technician group with one technician.
func groupWithTechnician(tb testing.TB, h *hub.Hub) (group, tech int64) {
	tb.Helper()
	ctx := context.Background()
	ms := org.MasterScope(0)
	n := groupCount.Add(1)
	g, err := h.Org.CreateTechGroup(ctx, ms, org.GroupInput{Name: fmt.Sprintf("Group %d", n)})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := h.Org.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &g.ID,
		Name: fmt.Sprintf("Tech %d", n), Email: fmt.Sprintf("t%d@example.com", n)}, "", false)
	if err != nil {
		tb.Fatal(err)
	}
	return g.ID, m.ID
}

func delivered(tb testing.TB, db *bun.DB) int {
	n, err := db.NewSelect().Table("plugin_deliveries").Where("plugin_id = 'ack' AND state = 'delivered'").Count(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return int(n)
}

// BenchmarkPluginDeliveries is events per second delivered through one real
// plugin process by the whole host path (outbox hook, durable queue,
// settings of the session's unit, gRPC call, result recorded): b.N events
// over 500 sessions are committed at once, and the clock runs until the last
// one is recorded as delivered. Deliveries of one session are ordered (each
// waits for the one before to be recorded), so the events are spread over
// 500 sessions, ten each at the default -benchtime 5000x.
//
//	go test ./core/hub -run '^$' -bench PluginDeliveries -benchtime 5000x
func BenchmarkPluginDeliveries(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		h, ids := ackHub(b, db, 500)
		ctx := context.Background()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range b.N {
			if err := h.Sessions.AppendEvent(ctx, tx, ids[i%len(ids)], "bench.tick", 0, map[string]int{"i": i}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		h.Plugins.Wake()
		for delivered(b, db) < b.N {
			time.Sleep(5 * time.Millisecond)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})
}

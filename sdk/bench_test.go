package sdk_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/plugintest"
)

// BenchmarkHandleEvent is the cost of one host-to-plugin call: the same
// event handed to the same plugin code in-process and through go-plugin's
// gRPC to a real plugin process, in the same run. The plugin acks without
// doing anything, so the difference is the transport.
//
//	go test ./sdk -run '^$' -bench HandleEvent -benchmem
func BenchmarkHandleEvent(b *testing.B) {
	e := sdk.Event{ID: "evt_1", Seq: 1, Type: "ack", SessionID: 42, At: time.Now(), UnitID: 3,
		Payload: json.RawMessage(`{"state":"closed"}`), Config: json.RawMessage(`{"end_url":"https://crm.example.com/p2u","format":"xml"}`), Attempt: 1}
	ctx := context.Background()
	var inProcess, remote float64
	b.Run("in-process", func(b *testing.B) {
		p := &testPlugin{}
		for b.Loop() {
			if r := p.HandleEvent(ctx, e); r.Outcome != sdk.Ack {
				b.Fatalf("outcome %v: %s", r.Outcome, r.Message)
			}
		}
		inProcess = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("plugin-process", func(b *testing.B) {
		conn := plugintest.Run(b, plugintest.Self(b), plugintest.NewFakeHost())
		for b.Loop() {
			r, err := conn.HandleEvent(ctx, e)
			if err != nil || r.Outcome != sdk.Ack {
				b.Fatalf("outcome %v %v", r, err)
			}
		}
		remote = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if inProcess > 0 {
			b.ReportMetric(remote/inProcess, "x-in-process")
		}
	})
}

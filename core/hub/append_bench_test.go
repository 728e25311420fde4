package hub_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/store/storetest"
)

// BenchmarkChatAppend is the hub's store time for one chat message, as the
// relay's reader makes it: the customer and the technician of one active
// session take turns, each message with a client_msg_id. Reported: p50 and
// p99 of one append in µs.
//
//	go test ./core/hub -run '^$' -bench ChatAppend -benchtime 2000x
func BenchmarkChatAppend(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		h := newHub(b, db)
		_, techID := groupWithTechnician(b, h)
		id := activeSession(b, h, org.Actor{ID: techID, Role: org.KindTechnician})
		took := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			kind, sender := relay.SenderCustomer, int64(0)
			if i%2 == 1 {
				kind, sender = relay.SenderTechnician, techID
			}
			t0 := time.Now()
			if _, err := chat(h, db, id, kind, sender, fmt.Sprint(i), "Is it plugged in?"); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(t0))
		}
		b.StopTimer()
		slices.Sort(took)
		at := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))].Nanoseconds()) / 1e3 }
		b.ReportMetric(at(0.5), "p50-µs")
		b.ReportMetric(at(0.99), "p99-µs")
	})
}

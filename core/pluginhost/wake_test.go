package pluginhost

import (
	"testing"

	"github.com/tetherhq/tether/sdk/manifest"
)

// TestEventsCommittedWakesOnlyForSubscribers: with no enabled plugin taking
// events the queue is not touched (a nil queue would panic); with one, it
// is woken.
func TestEventsCommittedWakesOnlyForSubscribers(t *testing.T) {
	h := &Host{}
	for _, subs := range []*[]manifest.Manifest{nil, {}} {
		if subs != nil {
			h.subs.Store(subs)
		}
		if h.takesEvents() {
			t.Errorf("takes events with subscribers %v", subs)
		}
		h.EventsCommitted() // must not reach the nil queue
	}
	h.subs.Store(&[]manifest.Manifest{{ID: "posturl"}})
	if !h.takesEvents() {
		t.Error("does not take events with an enabled subscriber")
	}
}

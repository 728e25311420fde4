package relay

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/core/store/storetest"
)

// TestBinaryFramesArriveIntact: relayed frames share pooled buffers between
// the sender and every receiver; each receiver must get every frame's own
// bytes, in order, while frames flow both ways and buffers are recycled.
func TestBinaryFramesArriveIntact(t *testing.T) {
	db := storetest.SQLite(t)
	h := newHarness(t, db)
	helper := insertNode(t, db, "technician", "Helper")
	if _, err := h.srv.Collaboration().Invite(context.Background(), h.session, h.owner, helper); err != nil {
		t.Fatal(err)
	}
	cust := h.customer(0)
	owner := h.technician(h.owner, 0)
	collab := h.technician(helper, 0)
	waitFor(t, func() bool { _, techs := h.srv.Hub().Presence(h.session); return len(techs) == 2 })

	// Sizes around the pooled buffers' 64 KiB, and one far larger.
	sizes := []int{1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 300 << 10, 4096}
	frame := func(from byte, i int) []byte {
		b := make([]byte, sizes[i%len(sizes)])
		b[0] = BinaryScreen
		for j := 1; j < len(b); j++ {
			b[j] = from ^ byte(i) ^ byte(j*7)
		}
		if len(b) >= 9 {
			binary.BigEndian.PutUint64(b[1:9], uint64(i))
		}
		return b
	}
	const n = 60
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := owner.ws.Write(context.Background(), websocket.MessageBinary, frame('t', i)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := range n {
		cust.sendBinary(t, frame('c', i))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	expect := func(name string, c *client, from byte) {
		t.Helper()
		for i := range n {
			select {
			case got := <-c.binary:
				if want := frame(from, i); !bytes.Equal(got, want) {
					t.Fatalf("%s: frame %d differs from the one sent (%d bytes, want %d)", name, i, len(got), len(want))
				}
			case <-time.After(wait):
				t.Fatalf("%s: frame %d not relayed", name, i)
			}
		}
	}
	expect("owner", owner, 'c')
	expect("collaborator", collab, 'c')
	expect("customer", cust, 't')
}

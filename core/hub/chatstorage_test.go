package hub_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestChatStorageSetting: a group whose chat_storage setting is off keeps
// no chat text in the database (P2U-3), while a group left at the default
// keeps it.
func TestChatStorageSetting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		h := newHub(t, db)
		off, offTech := groupWithTechnician(t, h)
		_, onTech := groupWithTechnician(t, h)
		if _, err := h.Settings.Save(ctx, settings.SaveRequest{UnitID: off, Section: relay.ChatStorageSection, Mode: settings.ModeUnit,
			Value: json.RawMessage(`{"keep_chat_text": false}`), ActorIsMaster: true}); err != nil {
			t.Fatal(err)
		}
		for tech, want := range map[int64]string{offTech: "", onTech: "my card is 4111"} {
			c, err := h.Sessions.CreatePrivate(ctx, org.Actor{ID: tech, Role: org.KindTechnician}, sessions.PrivateInput{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Relay.Log().Append(ctx, db, relay.Message{SessionID: c.Session.ID, Kind: relay.KindChat,
				SenderKind: relay.SenderTechnician, SenderID: tech, Body: "my card is 4111"}); err != nil {
				t.Fatal(err)
			}
			var body string
			if err := db.NewSelect().Table("session_messages").Column("body").
				Where("session_id = ? AND kind = 'chat'", c.Session.ID).Scan(ctx, &body); err != nil {
				t.Fatal(err)
			}
			if body != want {
				t.Errorf("technician %d's session stored %q, want %q", tech, body, want)
			}
		}
	})
}

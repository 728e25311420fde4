package delivery

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// Sent reports whether plugin was ever given a delivery of the session, in
// any state: the host API lets a plugin read only sessions it was sent.
func Sent(ctx context.Context, db bun.IDB, plugin string, sessionID int64) (bool, error) {
	ok, err := db.NewSelect().Table("plugin_deliveries").Where("plugin_id = ? AND session_id = ?", plugin, sessionID).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("deliveries of session %d to plugin %s: %w", sessionID, plugin, err)
	}
	return ok, nil
}

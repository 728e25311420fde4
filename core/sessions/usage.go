package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// AddTransmitted adds relayed bytes to the session's total (P2U-2 Transmitted).
func (s *Service) AddTransmitted(ctx context.Context, id, bytes int64) error {
	if bytes <= 0 {
		return nil
	}
	res, err := s.DB.NewUpdate().Model((*row)(nil)).Set("transmitted = transmitted + ?", bytes).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("add transmitted bytes to %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.NotFoundf("session", "No session with id %d.", id)
	}
	return nil
}

// ToolUsed records a console tool used in the session (SESS-14), once per tool.
func (s *Service) ToolUsed(ctx context.Context, id int64, tool string) error {
	tool = strings.TrimSpace(tool)
	if tool == "" || len(tool) > 64 {
		return fault.Field("tool", "must be 1 to 64 characters")
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var raw string
		if err := tx.NewSelect().Model((*row)(nil)).Column("tools_used").Where("id = ?", id).Scan(ctx, &raw); err != nil {
			return fmt.Errorf("load tools of %d: %w", id, err)
		}
		var tools []string
		if err := json.Unmarshal([]byte(raw), &tools); err != nil {
			return fmt.Errorf("decode tools of %d: %w", id, err)
		}
		if slices.Contains(tools, tool) {
			return nil
		}
		b, _ := json.Marshal(append(tools, tool))
		if _, err := tx.NewUpdate().Model((*row)(nil)).Set("tools_used = ?", string(b)).Where("id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("record tool for %d: %w", id, err)
		}
		return s.event(ctx, tx, id, change{event: "session.tool_used", payload: map[string]any{"tool": tool}}, s.now())
	})
}

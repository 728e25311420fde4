package settings

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// Mode says which units a save applies to (ORG-8).
type Mode string

const (
	// ModeUnit saves for this unit only.
	ModeUnit Mode = "unit"
	// ModeSubtree saves for this unit and every unit below it that the
	// section applies to: a technician group, its subgroups and, when the
	// section applies to them, their technicians.
	ModeSubtree Mode = "subtree"
	// ModeAll saves for every unit of the same kind that the caller
	// manages: all groups, all channels.
	ModeAll Mode = "all"
)

// SaveRequest is one save of a section.
type SaveRequest struct {
	UnitID  int64
	Section string
	Mode    Mode
	// Value is the whole section as JSON; fields it leaves out take their
	// defaults.
	Value         json.RawMessage
	ActorID       int64 // recorded as updated_by; 0 records none
	ActorIsMaster bool
	// InScope tells whether the caller manages a unit; nil means every unit.
	InScope func(Unit) bool
}

// Save validates the value and writes it to every unit the mode selects,
// in one transaction: either all of them are written or none. It returns
// the units written.
func (s *Service) Save(ctx context.Context, req SaveRequest) ([]Unit, error) {
	sec, err := s.section(req.Section)
	if err != nil {
		return nil, err
	}
	u, err := s.Tree.Unit(ctx, req.UnitID)
	if err != nil {
		return nil, fmt.Errorf("save settings %s of unit %d: %w", req.Section, req.UnitID, err)
	}
	if !sec.Applies(u.Kind) {
		return nil, notApplicable(sec, u)
	}
	inScope := req.InScope
	if inScope == nil {
		inScope = func(Unit) bool { return true }
	}
	if !inScope(u) {
		return nil, fault.OutOfScope("%s is outside the units you manage.", u.Name)
	}
	if sec.MasterOnly && !req.ActorIsMaster {
		return nil, masterOnly(sec)
	}
	if err := checkMode(sec, u, req.Mode); err != nil {
		return nil, err
	}
	v, err := decodeValue(sec, req.Value)
	if err != nil {
		return nil, err
	}
	value, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("save settings %s: encode: %w", sec.Name, err)
	}
	targets, err := s.targets(ctx, sec, u, req.Mode, inScope)
	if err != nil {
		return nil, fmt.Errorf("save settings %s of unit %d: %w", sec.Name, u.ID, err)
	}
	if err := s.write(ctx, sec, targets, string(value), req.ActorID); err != nil {
		return nil, fmt.Errorf("save settings %s of unit %d: %w", sec.Name, u.ID, err)
	}
	return targets, nil
}

func checkMode(sec Section, u Unit, m Mode) error {
	switch m {
	case ModeUnit, ModeSubtree:
		return nil
	case ModeAll:
		if sec.NoAllChannels && u.Kind == Channel {
			return fault.Field("mode", fmt.Sprintf("%s cannot be saved for all channels at once; save it channel by channel", title(sec)))
		}
		return nil
	default:
		return fault.Field("mode", `must be one of: unit, subtree, all`)
	}
}

// targets lists the units a save writes, u first, each once.
func (s *Service) targets(ctx context.Context, sec Section, u Unit, m Mode, inScope func(Unit) bool) ([]Unit, error) {
	var more []Unit
	var err error
	switch m {
	case ModeSubtree:
		more, err = s.Tree.Descendants(ctx, u.ID)
	case ModeAll:
		more, err = s.Tree.All(ctx, u.Kind)
	}
	if err != nil {
		return nil, err
	}
	out := []Unit{u}
	seen := map[int64]bool{u.ID: true}
	for _, c := range more {
		if seen[c.ID] || !sec.Applies(c.Kind) || !inScope(c) {
			continue
		}
		seen[c.ID] = true
		out = append(out, c)
	}
	return out, nil
}

// write upserts the value for every target in one statement inside one
// transaction.
func (s *Service) write(ctx context.Context, sec Section, targets []Unit, value string, actor int64) error {
	now := s.now()
	rows := make([]row, len(targets))
	for i, t := range targets {
		rows[i] = row{UnitID: t.ID, Section: sec.Name, Value: value, UpdatedAt: now, UpdatedBy: actor}
	}
	// Forget cached values whatever the outcome: a failed commit may
	// still have landed.
	defer s.cache.Forget()
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&rows).
			On("CONFLICT (unit_id, section) DO UPDATE").
			Set("value = EXCLUDED.value").
			Set("updated_at = EXCLUDED.updated_at").
			Set("updated_by = EXCLUDED.updated_by").
			Returning("NULL").
			Exec(ctx)
		return err
	})
}

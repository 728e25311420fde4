package org

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// Service reads and changes the organisation tree.
type Service struct {
	DB  *bun.DB
	Now func() time.Time
	// Changed, when set, is called after every committed change to the
	// organisation (units, members, channel assignments), so that caches
	// built on it (settings inheritance) can forget.
	Changed func()
}

// New returns a Service with the wall clock.
func New(db *bun.DB) *Service { return &Service{DB: db, Now: time.Now} }

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// inTx runs a change in a transaction and reports it to Changed, also when
// it failed: a commit whose answer was lost may still have landed.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if s.Changed != nil {
		defer s.Changed()
	}
	return s.DB.RunInTx(ctx, nil, fn)
}

// node loads one node or answers NotFound.
func node(ctx context.Context, db bun.IDB, id int64) (nodeRow, error) {
	var n nodeRow
	err := db.NewSelect().Model(&n).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return n, fault.NotFoundf("unit", "No unit with id %d.", id)
	}
	if err != nil {
		return n, fmt.Errorf("load unit %d: %w", id, err)
	}
	return n, nil
}

// nodeOfKind loads a node and checks its kind; a wrong kind is NotFound, with
// the noun the caller expects in the message.
func nodeOfKind(ctx context.Context, db bun.IDB, id int64, noun string, kinds ...Kind) (nodeRow, error) {
	n, err := node(ctx, db, id)
	if err != nil {
		if fault.IsKind(err, fault.NotFound) {
			return n, fault.NotFoundf(codeNoun(noun), "No %s with id %d.", noun, id)
		}
		return n, err
	}
	for _, k := range kinds {
		if n.Kind == k {
			return n, nil
		}
	}
	return n, fault.NotFoundf(codeNoun(noun), "No %s with id %d.", noun, id)
}

func codeNoun(noun string) string {
	out := make([]byte, 0, len(noun))
	for i := 0; i < len(noun); i++ {
		if noun[i] == ' ' {
			out = append(out, '_')
		} else {
			out = append(out, noun[i])
		}
	}
	return string(out)
}

// refOfKind checks a reference given in a request body: a missing or
// wrong-kind id is a field error (422), not a 404.
func refOfKind(ctx context.Context, db bun.IDB, id int64, field, noun string, kinds ...Kind) (nodeRow, error) {
	n, err := nodeOfKind(ctx, db, id, noun, kinds...)
	if fault.IsKind(err, fault.NotFound) {
		return n, fault.Field(field, fmt.Sprintf("no %s with id %d", noun, id))
	}
	return n, err
}

// Root returns the organisation root.
func (s *Service) Root(ctx context.Context) (Unit, error) {
	var n nodeRow
	err := s.DB.NewSelect().Model(&n).Where("kind = ?", KindOrg).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Unit{}, fault.NotFoundf("org", "The organisation has not been created yet.")
	}
	if err != nil {
		return Unit{}, fmt.Errorf("load organisation: %w", err)
	}
	return n.unit(), nil
}

func (s *Service) rootID(ctx context.Context, db bun.IDB) (int64, error) {
	var id int64
	err := db.NewSelect().Table("nodes").Column("id").Where("kind = ?", KindOrg).Limit(1).Scan(ctx, &id)
	if err != nil {
		return 0, fmt.Errorf("load organisation root: %w", err)
	}
	return id, nil
}

// Unit returns any node, checked against the caller's scope.
func (s *Service) Unit(ctx context.Context, sc *Scope, id int64) (Unit, error) {
	n, err := node(ctx, s.DB, id)
	if err != nil {
		return Unit{}, err
	}
	if !sc.Sees(n.ID) {
		return Unit{}, fault.OutOfScope("Unit %d is outside your scope.", id)
	}
	return n.unit(), nil
}

// RootID is the organisation's node: the unit whose settings apply when
// nothing narrower does.
func (s *Service) RootID(ctx context.Context) (int64, error) { return s.rootID(ctx, s.DB) }

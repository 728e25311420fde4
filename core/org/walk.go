package org

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// These read the tree without a scope check; they serve other core packages
// (settings inheritance, auth), never a request directly.

// UnitByID returns any unit.
func (s *Service) UnitByID(ctx context.Context, id int64) (Unit, error) {
	n, err := node(ctx, s.DB, id)
	return n.unit(), err
}

// Ancestors returns the units above id, nearest first, ending at the root.
// Settings resolve through it on every read, so it walks only the parent
// chain (a recursive query on both engines) rather than the whole tree.
func (s *Service) Ancestors(ctx context.Context, id int64) ([]Unit, error) {
	var rows []struct {
		nodeRow `bun:",extend"`
		Depth   int `bun:"depth"`
	}
	err := s.DB.NewRaw(`WITH RECURSIVE chain (id, depth) AS (
		SELECT parent_id, 1 FROM nodes WHERE id = ? AND parent_id IS NOT NULL
		UNION ALL
		SELECT n.parent_id, c.depth + 1 FROM nodes n JOIN chain c ON n.id = c.id WHERE n.parent_id IS NOT NULL AND c.depth < 64
	) SELECT n.*, c.depth FROM chain c JOIN nodes n ON n.id = c.id ORDER BY c.depth`, id).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("load ancestors of %d: %w", id, err)
	}
	if len(rows) == 0 {
		if _, err := node(ctx, s.DB, id); err != nil {
			return nil, err
		}
	}
	out := make([]Unit, len(rows))
	for i, r := range rows {
		out[i] = r.nodeRow.unit()
	}
	return out, nil
}

// Descendants returns every unit below id, at any depth, parents before children.
func (s *Service) Descendants(ctx context.Context, id int64) ([]Unit, error) {
	return s.unitsAlong(ctx, id, func(sk *skeleton) []int64 { return sk.subtree(id)[1:] })
}

func (s *Service) unitsAlong(ctx context.Context, id int64, pick func(*skeleton) []int64) ([]Unit, error) {
	if _, err := node(ctx, s.DB, id); err != nil {
		return nil, err
	}
	sk, err := loadSkeleton(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	ids := pick(sk)
	if len(ids) == 0 {
		return []Unit{}, nil
	}
	var rows []nodeRow
	if err := s.DB.NewSelect().Model(&rows).Where("id IN (?)", bunIn(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load units: %w", err)
	}
	byID := make(map[int64]nodeRow, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	out := make([]Unit, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r.unit())
		}
	}
	return out, nil
}

// UnitsOfKind returns every unit of one kind, by id.
func (s *Service) UnitsOfKind(ctx context.Context, kind Kind) ([]Unit, error) {
	var rows []nodeRow
	if err := s.DB.NewSelect().Model(&rows).Where("kind = ?", kind).OrderExpr("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load %s units: %w", kind, err)
	}
	out := make([]Unit, len(rows))
	for i, r := range rows {
		out[i] = r.unit()
	}
	return out, nil
}

// Hierarchy returns every unit with member e-mails, for the compatibility
// API's getHierarchy; scoped like Tree.
func (s *Service) Hierarchy(ctx context.Context, sc *Scope) ([]SearchHit, error) {
	e, err := s.loadEverything(ctx)
	if err != nil {
		return nil, err
	}
	out := []SearchHit{}
	for _, n := range e.nodes {
		if n.Kind != KindOrg && !sc.Sees(n.ID) {
			continue
		}
		out = append(out, SearchHit{Unit: n.unit(), Email: e.members[n.ID].Email})
	}
	return out, nil
}

func bunIn(ids []int64) any { return bun.In(ids) }

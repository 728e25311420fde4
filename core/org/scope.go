package org

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// Actor is who makes a request.
type Actor struct {
	ID   int64
	Role Kind // KindMaster, KindAdmin or KindTechnician
}

// Scope is the set of units an actor may read and change (ORG-1, ORG-3).
// Master administrators see everything; administrators see the technician
// groups assigned to them, their subgroups, the technicians in them and the
// channels assigned to any of them; technicians manage nothing.
type Scope struct {
	Actor Actor
	all   bool
	units map[int64]bool // units the actor may manage
	own   map[int64]bool // units the actor may read but not manage (itself)
}

// MasterScope is the scope of a master administrator (and of the system).
func MasterScope(actorID int64) *Scope {
	return &Scope{Actor: Actor{ID: actorID, Role: KindMaster}, all: true}
}

// IsMaster reports whether the actor is a master administrator.
func (s *Scope) IsMaster() bool { return s.all }

// Manages reports whether the actor may change the unit.
func (s *Scope) Manages(id int64) bool { return s.all || s.units[id] }

// Sees reports whether the actor may read the unit.
func (s *Scope) Sees(id int64) bool { return s.Manages(id) || s.own[id] }

// require refuses a unit outside the scope.
func (s *Scope) require(id int64, noun string) error {
	if !s.Manages(id) {
		return fault.OutOfScope("The %s %d is outside your scope.", noun, id)
	}
	return nil
}

// requireMaster refuses anyone but a master administrator.
func (s *Scope) requireMaster(what string) error {
	if !s.all {
		return fault.Forbiddenf("master_only", "Only a master administrator may %s.", what)
	}
	return nil
}

// requireAdmin refuses technicians, who manage nothing.
func (s *Scope) requireAdmin() error {
	if s.Actor.Role != KindMaster && s.Actor.Role != KindAdmin {
		return fault.Forbiddenf("admin_only", "Only administrators may change the organisation.")
	}
	return nil
}

// ScopeOf computes the actor's scope from the current tree.
func (s *Service) ScopeOf(ctx context.Context, a Actor) (*Scope, error) {
	return scopeOf(ctx, s.DB, a)
}

func scopeOf(ctx context.Context, db bun.IDB, a Actor) (*Scope, error) {
	if a.Role == KindMaster {
		return &Scope{Actor: a, all: true}, nil
	}
	sc := &Scope{Actor: a, units: map[int64]bool{}, own: map[int64]bool{a.ID: true}}
	if a.Role != KindAdmin {
		return sc, nil
	}
	var assigned []int64
	if err := db.NewSelect().Table("admin_tech_groups").Column("tech_group_id").
		Where("admin_id = ?", a.ID).Scan(ctx, &assigned); err != nil {
		return nil, fmt.Errorf("load assigned groups of %d: %w", a.ID, err)
	}
	if len(assigned) == 0 {
		return sc, nil
	}
	snap, err := loadSkeleton(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, g := range assigned {
		for _, id := range snap.subtree(g) {
			sc.units[id] = true
		}
	}
	var links []channelGroupRow
	if err := db.NewSelect().Model(&links).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load channel assignments: %w", err)
	}
	for _, l := range links {
		if sc.units[l.TechGroupID] {
			sc.units[l.ChannelID] = true
		}
	}
	return sc, nil
}

// skeleton is the tree's shape without payload: enough to walk subtrees and
// ancestors in memory with one query.
type skeleton struct {
	parent   map[int64]int64
	kind     map[int64]Kind
	children map[int64][]int64
}

func loadSkeleton(ctx context.Context, db bun.IDB) (*skeleton, error) {
	var rows []struct {
		ID       int64  `bun:"id"`
		ParentID *int64 `bun:"parent_id"`
		Kind     Kind   `bun:"kind"`
	}
	if err := db.NewSelect().Table("nodes").Column("id", "parent_id", "kind").OrderExpr("id").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("load tree: %w", err)
	}
	sk := &skeleton{parent: map[int64]int64{}, kind: map[int64]Kind{}, children: map[int64][]int64{}}
	for _, r := range rows {
		sk.kind[r.ID] = r.Kind
		if r.ParentID != nil {
			sk.parent[r.ID] = *r.ParentID
			sk.children[*r.ParentID] = append(sk.children[*r.ParentID], r.ID)
		}
	}
	return sk, nil
}

// subtree returns id and every node below it.
func (sk *skeleton) subtree(id int64) []int64 {
	out := []int64{id}
	for i := 0; i < len(out); i++ {
		out = append(out, sk.children[out[i]]...)
	}
	return out
}

// ancestors returns the parents of id, nearest first.
func (sk *skeleton) ancestors(id int64) []int64 {
	var out []int64
	seen := map[int64]bool{id: true}
	for {
		p, ok := sk.parent[id]
		if !ok || seen[p] {
			return out
		}
		out = append(out, p)
		seen[p] = true
		id = p
	}
}

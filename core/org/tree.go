package org

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// TreeNode is a unit with its children, as the admin centre draws the tree.
type TreeNode struct {
	Unit
	Email    string `json:"email,omitempty"`
	Nickname string `json:"nickname,omitempty"`
	Number   int    `json:"number,omitempty"`
	// Skills and Languages are a technician's routing attributes.
	Skills    []string    `json:"skills,omitempty"`
	Languages []string    `json:"languages,omitempty"`
	Children  []*TreeNode `json:"children"`
}

// everything loads all nodes with their member and channel payloads.
type everything struct {
	nodes    []nodeRow
	byID     map[int64]nodeRow
	members  map[int64]memberRow
	channels map[int64]int
}

func (s *Service) loadEverything(ctx context.Context) (*everything, error) {
	e := &everything{byID: map[int64]nodeRow{}, members: map[int64]memberRow{}, channels: map[int64]int{}}
	if err := s.DB.NewSelect().Model(&e.nodes).OrderExpr("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load tree: %w", err)
	}
	var members []memberRow
	if err := s.DB.NewSelect().Model(&members).Column("node_id", "email", "nickname", "sso_id", "skills", "languages").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load members: %w", err)
	}
	var channels []channelRow
	if err := s.DB.NewSelect().Model(&channels).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load channels: %w", err)
	}
	for _, n := range e.nodes {
		e.byID[n.ID] = n
	}
	for _, m := range members {
		e.members[m.NodeID] = m
	}
	for _, c := range channels {
		e.channels[c.NodeID] = c.Number
	}
	return e, nil
}

func (e *everything) treeNode(n nodeRow) *TreeNode {
	t := &TreeNode{Unit: n.unit(), Children: []*TreeNode{}}
	if m, ok := e.members[n.ID]; ok {
		t.Email, t.Nickname = m.Email, m.Nickname
		t.Skills, t.Languages = m.Skills, m.Languages
	}
	t.Number = e.channels[n.ID]
	return t
}

// Tree returns the organisation as the caller may see it: the root, and
// below it every unit in scope. For an administrator the root's children
// are the topmost groups assigned to them and the channels in their scope.
func (s *Service) Tree(ctx context.Context, sc *Scope) (*TreeNode, error) {
	e, err := s.loadEverything(ctx)
	if err != nil {
		return nil, err
	}
	nodes := map[int64]*TreeNode{}
	var root *TreeNode
	for _, n := range e.nodes {
		if n.Kind == KindOrg {
			root = e.treeNode(n)
			nodes[n.ID] = root
			continue
		}
		if sc.Sees(n.ID) {
			nodes[n.ID] = e.treeNode(n)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("load tree: the organisation root is missing")
	}
	for _, n := range e.nodes {
		t, ok := nodes[n.ID]
		if !ok || t == root {
			continue
		}
		parent := root
		if n.ParentID != nil {
			if p, ok := nodes[*n.ParentID]; ok {
				parent = p
			}
		}
		parent.Children = append(parent.Children, t)
	}
	sortTree(root)
	return root, nil
}

var kindOrder = map[Kind]int{KindAdminGroup: 0, KindMaster: 1, KindAdmin: 2, KindTechGroup: 3, KindTechnician: 4, KindChannel: 5}

func sortTree(t *TreeNode) {
	sort.SliceStable(t.Children, func(i, j int) bool {
		a, b := t.Children[i], t.Children[j]
		if kindOrder[a.Kind] != kindOrder[b.Kind] {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		if a.Kind == KindChannel {
			return a.Number < b.Number
		}
		return strings.ToLower(a.Name) < strings.ToLower(b.Name)
	})
	for _, c := range t.Children {
		sortTree(c)
	}
}

// SearchHit is one unit matching a search, with the names of its ancestors.
type SearchHit struct {
	Unit
	Email string   `json:"email,omitempty"`
	Path  []string `json:"path"`
	// Skills and Languages are a technician's routing attributes.
	Skills    []string `json:"skills,omitempty"`
	Languages []string `json:"languages,omitempty"`
}

// Search finds units in the caller's scope whose name, description, e-mail,
// nickname or SSO ID contains the text, or one of whose skills or languages
// does, case-insensitively (ORG-6).
func (s *Service) Search(ctx context.Context, sc *Scope, text string, limit int) ([]SearchHit, error) {
	needle := strings.ToLower(strings.TrimSpace(text))
	if needle == "" {
		return nil, fieldErr("q", "is required")
	}
	if len(needle) > 128 {
		return nil, fieldErr("q", "must be at most 128 characters")
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	e, err := s.loadEverything(ctx)
	if err != nil {
		return nil, err
	}
	hits := []SearchHit{}
	for _, n := range e.nodes {
		if n.Kind == KindOrg || !sc.Sees(n.ID) {
			continue
		}
		m := e.members[n.ID]
		if !containsAny(needle, n.Name, n.Description, m.Email, m.Nickname, m.SSOID) &&
			!containsAny(needle, m.Skills...) && !containsAny(needle, m.Languages...) {
			continue
		}
		hits = append(hits, SearchHit{Unit: n.unit(), Email: m.Email, Path: e.path(n), Skills: m.Skills, Languages: m.Languages})
		if len(hits) == limit {
			break
		}
	}
	return hits, nil
}

func (e *everything) path(n nodeRow) []string {
	var names []string
	seen := map[int64]bool{}
	for n.ParentID != nil && !seen[*n.ParentID] {
		seen[*n.ParentID] = true
		p, ok := e.byID[*n.ParentID]
		if !ok {
			break
		}
		names = append([]string{p.Name}, names...)
		n = p
	}
	return names
}

func containsAny(needle string, hay ...string) bool {
	for _, h := range hay {
		if h != "" && strings.Contains(strings.ToLower(h), needle) {
			return true
		}
	}
	return false
}

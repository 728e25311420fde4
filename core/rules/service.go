package rules

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/routing"
)

// MaxRulesPerList bounds one channel's or group's list: routing tries the
// rules in order, so the list's length is part of the cost of routing.
const MaxRulesPerList = 100

// UnitLookup finds a unit of the organisation (org.Service does).
type UnitLookup interface {
	UnitByID(ctx context.Context, id int64) (org.Unit, error)
}

// Service stores rules and packs and serves their compiled lists.
type Service struct {
	DB    *bun.DB
	Units UnitLookup
	Now   func() time.Time
	// Failures counts rules that failed at run time; the router reports to
	// it (Router.OnFailure = s.Failures.Record) and List shows it.
	Failures *routing.FailureLog

	// CacheTTL, when positive, bounds how long compiled rules are trusted:
	// changes made through this Service apply at once, changes made
	// through another hub node within CacheTTL. 0 trusts them until the
	// next change here.
	CacheTTL time.Duration

	mu    sync.Mutex
	gen   uint64 // bumped by every invalidation
	cache map[List]compiledList
}

// New returns a Service with the wall clock.
func New(db *bun.DB, units UnitLookup) *Service {
	return &Service{DB: db, Units: units, Now: time.Now, Failures: &routing.FailureLog{}}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// CheckList refuses unless the list's unit is a channel (or technician
// group) the caller manages as an administrator.
func (s *Service) CheckList(ctx context.Context, sc *org.Scope, l List) error {
	if sc.Actor.Role != org.KindMaster && sc.Actor.Role != org.KindAdmin {
		return fault.Forbiddenf("admins_only", "Only administrators manage routing rules.")
	}
	if (l.ChannelID == 0) == (l.GroupID == 0) {
		return fault.Field("channel_id", "give exactly one of channel_id and group_id")
	}
	want, noun, code := org.KindChannel, "channel", "channel"
	if l.GroupID != 0 {
		want, noun, code = org.KindTechGroup, "technician group", "group"
	}
	u, err := s.Units.UnitByID(ctx, l.Unit())
	if err != nil || u.Kind != want {
		if err != nil && !fault.IsKind(err, fault.NotFound) {
			return err
		}
		return fault.NotFoundf(code, "No %s with id %d.", noun, l.Unit())
	}
	if !sc.Manages(u.ID) {
		return fault.OutOfScope("The %s %d is outside your scope.", noun, u.ID)
	}
	return nil
}

func (r ruleRow) list() List {
	var l List
	if r.ChannelID != nil {
		l.ChannelID = *r.ChannelID
	}
	if r.GroupID != nil {
		l.GroupID = *r.GroupID
	}
	return l
}

// rule decodes a stored rule and sets what its list decides.
func (r ruleRow) rule() (routing.Rule, error) {
	var rule routing.Rule
	if err := json.Unmarshal([]byte(r.Body), &rule); err != nil {
		return rule, fmt.Errorf("decode rule %d: %w", r.ID, err)
	}
	rule.ID = r.ID
	rule.Priority = r.Position
	rule.AppliesTo = appliesTo(r.list())
	return rule, nil
}

func appliesTo(l List) routing.AppliesTo {
	a := routing.AppliesTo{ChannelIDs: []int64{}, GroupIDs: []int64{}}
	if l.ChannelID != 0 {
		a.ChannelIDs = []int64{l.ChannelID}
	} else {
		a.GroupIDs = []int64{l.GroupID}
	}
	return a
}

func (s *Service) stored(r ruleRow) (Stored, error) {
	rule, err := r.rule()
	if err != nil {
		return Stored{}, err
	}
	st := Stored{Rule: rule, List: r.list(), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if f, ok := s.Failures.Snapshot()[r.ID]; ok {
		st.Failures, st.LastError = f.Count, f.LastError
	}
	return st, nil
}

// body checks and compiles a rule for list l and returns the JSON to store:
// every error at once, nothing stored on failure.
func body(l List, r routing.Rule) (string, error) {
	r.ID, r.Priority, r.AppliesTo = 0, 0, appliesTo(l)
	if _, err := routing.CompileRule(r); err != nil {
		var re routing.RuleErrors
		if errors.As(err, &re) {
			return "", re.Fault()
		}
		return "", err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode rule: %w", err)
	}
	return string(b), nil
}

func whereList(q *bun.SelectQuery, l List) *bun.SelectQuery {
	if l.ChannelID != 0 {
		return q.Where("channel_id = ?", l.ChannelID)
	}
	return q.Where("group_id = ?", l.GroupID)
}

func listRows(ctx context.Context, db bun.IDB, l List) ([]ruleRow, error) {
	var rows []ruleRow
	if err := whereList(db.NewSelect().Model(&rows), l).OrderExpr("position, id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return rows, nil
}

// Rules returns a channel's or group's rules in the order routing tries them.
func (s *Service) Rules(ctx context.Context, sc *org.Scope, l List) ([]Stored, error) {
	if err := s.CheckList(ctx, sc, l); err != nil {
		return nil, err
	}
	rows, err := listRows(ctx, s.DB, l)
	if err != nil {
		return nil, err
	}
	out := make([]Stored, 0, len(rows))
	for _, r := range rows {
		st, err := s.stored(r)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Service) row(ctx context.Context, db bun.IDB, sc *org.Scope, id int64) (ruleRow, error) {
	var r ruleRow
	err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fault.NotFoundf("rule", "No routing rule with id %d.", id)
	}
	if err != nil {
		return r, fmt.Errorf("load rule %d: %w", id, err)
	}
	return r, s.CheckList(ctx, sc, r.list())
}

// Rule returns one rule.
func (s *Service) Rule(ctx context.Context, sc *org.Scope, id int64) (Stored, error) {
	r, err := s.row(ctx, s.DB, sc, id)
	if err != nil {
		return Stored{}, err
	}
	return s.stored(r)
}

// Create checks, compiles and appends a rule to the end of its list.
func (s *Service) Create(ctx context.Context, sc *org.Scope, l List, rule routing.Rule) (Stored, error) {
	if err := s.CheckList(ctx, sc, l); err != nil {
		return Stored{}, err
	}
	b, err := body(l, rule)
	if err != nil {
		return Stored{}, err
	}
	now := s.now()
	r := ruleRow{Body: b, CreatedAt: now, UpdatedAt: now}
	if l.ChannelID != 0 {
		r.ChannelID = &l.ChannelID
	} else {
		r.GroupID = &l.GroupID
	}
	err = s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		rows, err := listRows(ctx, tx, l)
		if err != nil {
			return err
		}
		if len(rows) >= MaxRulesPerList {
			return fault.New(fault.Conflict, "too_many_rules", "A list holds at most %d rules.", MaxRulesPerList)
		}
		if n := len(rows); n > 0 {
			r.Position = rows[n-1].Position + 1
		}
		if _, err := tx.NewInsert().Model(&r).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("insert rule: %w", err)
		}
		return s.audit(ctx, tx, sc, ActionCreate, l, r.ID, 0, "", r.Body)
	})
	if err != nil {
		return Stored{}, err
	}
	s.invalidate()
	return s.stored(r)
}

// Update checks, compiles and replaces a rule; it stays in its list and place.
func (s *Service) Update(ctx context.Context, sc *org.Scope, id int64, rule routing.Rule) (Stored, error) {
	var r ruleRow
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if r, err = s.row(ctx, tx, sc, id); err != nil {
			return err
		}
		b, err := body(r.list(), rule)
		if err != nil {
			return err
		}
		old := r.Body
		r.Body, r.UpdatedAt = b, s.now()
		if _, err := tx.NewUpdate().Model(&r).Column("body", "updated_at").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update rule %d: %w", id, err)
		}
		return s.audit(ctx, tx, sc, ActionUpdate, r.list(), id, 0, old, r.Body)
	})
	if err != nil {
		return Stored{}, err
	}
	s.invalidate()
	return s.stored(r)
}

// Delete removes a rule.
func (s *Service) Delete(ctx context.Context, sc *org.Scope, id int64) error {
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		r, err := s.row(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model(&r).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("delete rule %d: %w", id, err)
		}
		return s.audit(ctx, tx, sc, ActionDelete, r.list(), id, 0, r.Body, "")
	})
	if err != nil {
		return err
	}
	s.invalidate()
	return nil
}

// Reorder sets the order of a list: ids must name every rule of the list
// exactly once, first tried first.
func (s *Service) Reorder(ctx context.Context, sc *org.Scope, l List, ids []int64) ([]Stored, error) {
	if err := s.CheckList(ctx, sc, l); err != nil {
		return nil, err
	}
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		rows, err := listRows(ctx, tx, l)
		if err != nil {
			return err
		}
		old := make([]int64, len(rows))
		in := map[int64]bool{}
		for i, r := range rows {
			old[i] = r.ID
			in[r.ID] = true
		}
		if len(ids) != len(rows) {
			return fault.Field("ids", fmt.Sprintf("must list the %d rules of the list, each once", len(rows)))
		}
		for i, id := range ids {
			if !in[id] {
				return fault.Field(fmt.Sprintf("ids[%d]", i), "is not a rule of this list, or is listed twice")
			}
			delete(in, id)
			if _, err := tx.NewUpdate().Model((*ruleRow)(nil)).Set("position = ?", i).Where("id = ?", id).Exec(ctx); err != nil {
				return fmt.Errorf("reorder rules: %w", err)
			}
		}
		ob, _ := json.Marshal(old)
		nb, _ := json.Marshal(ids)
		return s.audit(ctx, tx, sc, ActionReorder, l, 0, 0, string(ob), string(nb))
	})
	if err != nil {
		return nil, err
	}
	s.invalidate()
	return s.Rules(ctx, sc, l)
}

func (s *Service) audit(ctx context.Context, db bun.IDB, sc *org.Scope, a Action, l List, ruleID, packID int64, old, new string) error {
	row := auditRow{At: s.now(), Action: a, RuleID: ruleID, PackID: packID,
		ChannelID: l.ChannelID, GroupID: l.GroupID, OldJSON: old, NewJSON: new}
	if sc != nil {
		row.ActorID = sc.Actor.ID
	}
	if _, err := db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("audit %s: %w", a, err)
	}
	return nil
}

// Audit returns the newest changes to a list first, at most limit of them
// (100 when limit is 0). Pack installations belong to no list: a master
// administrator reads them with the zero List.
func (s *Service) Audit(ctx context.Context, sc *org.Scope, l List, limit int) ([]AuditEntry, error) {
	if l == (List{}) {
		if !sc.IsMaster() {
			return nil, fault.Forbiddenf("masters_only", "Only master administrators read the whole routing audit log; give channel_id or group_id.")
		}
	} else if err := s.CheckList(ctx, sc, l); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var rows []auditRow
	q := s.DB.NewSelect().Model(&rows)
	if l.ChannelID != 0 {
		q = q.Where("channel_id = ?", l.ChannelID)
	} else if l.GroupID != 0 {
		q = q.Where("group_id = ?", l.GroupID)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read routing audit: %w", err)
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{ID: r.ID, At: r.At, ActorID: r.ActorID, Action: r.Action, RuleID: r.RuleID, PackID: r.PackID,
			ChannelID: r.ChannelID, GroupID: r.GroupID, Old: rawOrNull(r.OldJSON), New: rawOrNull(r.NewJSON)}
	}
	return out, nil
}

func rawOrNull(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}

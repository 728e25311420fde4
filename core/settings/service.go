package settings

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/expiring"
	"github.com/tetherhq/tether/core/fault"
)

// Service reads and writes settings values.
type Service struct {
	DB       *bun.DB
	Tree     Tree
	Registry *Registry
	Now      func() time.Time // nil means time.Now
	// CacheTTL, when positive, caches which stored value applies to a
	// unit's section for that long (cache.go); 0 reads the database on
	// every call.
	CacheTTL time.Duration

	cache expiring.Map[cacheKey, resolution]
}

// Effective is the value a unit works with, and where it comes from.
type Effective struct {
	Section string `json:"section"`
	Unit    Unit   `json:"unit"`
	Value   any    `json:"value"` // pointer to the section's struct
	// Source is the unit whose stored value applies (the unit itself when
	// Own); nil when the built-in default applies.
	Source *Unit `json:"inherited_from"`
	Own    bool  `json:"own"`
}

// row is one stored value.
type row struct {
	bun.BaseModel `bun:"table:settings"`

	ID        int64     `bun:"id,pk,autoincrement"`
	UnitID    int64     `bun:"unit_id,notnull"`
	Section   string    `bun:"section,notnull"`
	Value     string    `bun:"value,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
	UpdatedBy int64     `bun:"updated_by,nullzero"`
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) section(name string) (Section, error) {
	sec, ok := s.Registry.Section(name)
	if !ok {
		return Section{}, fault.NotFoundf("section", "There is no settings section %q.", name)
	}
	return sec, nil
}

func notApplicable(sec Section, u Unit) error {
	return fault.Field("section", fmt.Sprintf("%q cannot be set on a unit of kind %s", sec.Name, u.Kind))
}

// Effective resolves a section for a unit: the unit's own value, else the
// nearest ancestor's, else the default.
func (s *Service) Effective(ctx context.Context, unitID int64, section string) (Effective, error) {
	sec, err := s.section(section)
	if err != nil {
		return Effective{}, err
	}
	var gen uint64
	if s.CacheTTL > 0 {
		r, ok, g := s.cache.Get(cacheKey{unitID, sec.Name}, time.Now(), s.CacheTTL)
		if ok {
			return effective(sec, r)
		}
		gen = g
	}
	u, err := s.Tree.Unit(ctx, unitID)
	if err != nil {
		return Effective{}, fmt.Errorf("settings %s of unit %d: %w", section, unitID, err)
	}
	if !sec.Applies(u.Kind) {
		return Effective{}, notApplicable(sec, u)
	}
	if s.CacheTTL <= 0 {
		rs, err := s.resolutions(ctx, u, []Section{sec})
		if err != nil {
			return Effective{}, err
		}
		return effective(sec, rs[0])
	}
	// A miss resolves every section the unit can hold in the same three
	// reads: a session's transitions want several of them, and they expire
	// together.
	var secs []Section
	for _, other := range s.Registry.Sections() {
		if other.Applies(u.Kind) {
			secs = append(secs, other)
		}
	}
	rs, err := s.resolutions(ctx, u, secs)
	if err != nil {
		return Effective{}, err
	}
	read := time.Now()
	var mine resolution
	for i, r := range rs {
		s.cache.Put(gen, cacheKey{unitID, secs[i].Name}, r, read)
		if secs[i].Name == sec.Name {
			mine = r
		}
	}
	return effective(sec, mine)
}

// All resolves every section that applies to the unit, sorted by name.
func (s *Service) All(ctx context.Context, unitID int64) ([]Effective, error) {
	u, err := s.Tree.Unit(ctx, unitID)
	if err != nil {
		return nil, fmt.Errorf("settings of unit %d: %w", unitID, err)
	}
	var secs []Section
	for _, sec := range s.Registry.Sections() {
		if sec.Applies(u.Kind) {
			secs = append(secs, sec)
		}
	}
	return s.resolve(ctx, u, secs)
}

// resolve reads the stored values of the unit and its ancestors for every
// section in one query and picks the nearest for each.
func (s *Service) resolve(ctx context.Context, u Unit, secs []Section) ([]Effective, error) {
	rs, err := s.resolutions(ctx, u, secs)
	if err != nil {
		return nil, err
	}
	out := make([]Effective, len(secs))
	for i, sec := range secs {
		if out[i], err = effective(sec, rs[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resolutions finds, for every section, which stored value applies to the
// unit: its own, else the nearest ancestor's, else none (the default).
func (s *Service) resolutions(ctx context.Context, u Unit, secs []Section) ([]resolution, error) {
	out := make([]resolution, 0, len(secs))
	if len(secs) == 0 {
		return out, nil
	}
	ancestors, err := s.Tree.Ancestors(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("settings of unit %d: ancestors: %w", u.ID, err)
	}
	chain := append([]Unit{u}, ancestors...)
	ids := make([]int64, len(chain))
	for i, c := range chain {
		ids[i] = c.ID
	}
	names := make([]string, len(secs))
	for i, sec := range secs {
		names[i] = sec.Name
	}
	var rows []row
	err = s.DB.NewSelect().Model(&rows).Column("unit_id", "section", "value").
		Where("unit_id IN (?)", bun.In(ids)).
		Where("section IN (?)", bun.In(names)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("settings of unit %d: read: %w", u.ID, err)
	}
	stored := make(map[cacheKey]string, len(rows))
	for _, r := range rows {
		stored[cacheKey{r.UnitID, r.Section}] = r.Value
	}
	for _, sec := range secs {
		r := resolution{unit: u}
		for _, c := range chain {
			// A unit of another kind cannot hold this section, so a row
			// there is not part of the inheritance chain.
			if !sec.Applies(c.Kind) {
				continue
			}
			raw, ok := stored[cacheKey{c.ID, sec.Name}]
			if !ok {
				continue
			}
			src := c
			r.source, r.raw = &src, raw
			break
		}
		out = append(out, r)
	}
	return out, nil
}

// effective decodes a resolution into a fresh value of the section's type.
func effective(sec Section, r resolution) (Effective, error) {
	e := Effective{Section: sec.Name, Unit: r.unit, Value: sec.New()}
	if r.source == nil {
		return e, nil
	}
	// Lenient on purpose: values stored by an older version may lack newer
	// fields (they keep their defaults) or carry fields since removed.
	if err := json.Unmarshal([]byte(r.raw), e.Value); err != nil {
		return Effective{}, fmt.Errorf("settings %s of unit %d: stored value: %w", sec.Name, r.source.ID, err)
	}
	src := *r.source
	e.Source = &src
	e.Own = src.ID == r.unit.ID
	return e, nil
}

// Load resolves a section for a unit into out, which must be a pointer to
// the section's struct type.
func (s *Service) Load(ctx context.Context, unitID int64, section string, out any) error {
	e, err := s.Effective(ctx, unitID, section)
	if err != nil {
		return err
	}
	dst := reflect.ValueOf(out)
	src := reflect.ValueOf(e.Value)
	if dst.Kind() != reflect.Pointer || dst.IsNil() || dst.Type() != src.Type() {
		return fmt.Errorf("load settings %s: out is %T, want %s", section, out, src.Type())
	}
	dst.Elem().Set(src.Elem())
	return nil
}

// Get resolves a section for a unit as its struct type T, e.g.
// settings.Get[queue.Settings](ctx, svc, groupID, "queue").
func Get[T any](ctx context.Context, svc *Service, unitID int64, section string) (T, error) {
	var v T
	err := svc.Load(ctx, unitID, section, &v)
	return v, err
}

// Reset removes the unit's own value so that it inherits again. Master-only
// sections are refused: Reset does not know the caller's role, and a reset
// could weaken a policy only master admins may change.
func (s *Service) Reset(ctx context.Context, unitID int64, section string, inScope func(Unit) bool) error {
	sec, err := s.section(section)
	if err != nil {
		return err
	}
	u, err := s.Tree.Unit(ctx, unitID)
	if err != nil {
		return fmt.Errorf("reset settings %s of unit %d: %w", section, unitID, err)
	}
	if !sec.Applies(u.Kind) {
		return notApplicable(sec, u)
	}
	if inScope != nil && !inScope(u) {
		return fault.OutOfScope("%s is outside the units you manage.", u.Name)
	}
	if sec.MasterOnly {
		return masterOnly(sec)
	}
	_, err = s.DB.NewDelete().Model((*row)(nil)).
		Where("unit_id = ?", u.ID).
		Where("section = ?", sec.Name).
		Exec(ctx)
	s.cache.Forget()
	if err != nil {
		return fmt.Errorf("reset settings %s of unit %d: %w", section, unitID, err)
	}
	return nil
}

func masterOnly(sec Section) error {
	return fault.Forbiddenf("master_only", "Only master administrators may change %s.", title(sec))
}

func title(sec Section) string {
	if sec.Title != "" {
		return sec.Title
	}
	return sec.Name
}

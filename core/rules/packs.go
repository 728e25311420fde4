package rules

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/routing"
)

// MaxPackRules bounds a pack (all its files together).
const MaxPackRules = 200

// packFile is one rule file of a pack: {"rules": [...]}.
type packFile struct {
	Rules []routing.Rule `json:"rules"`
}

// ParsePack reads and compiles a pack's files (name -> content) in name
// order. Every problem of every file is reported at once, with paths such
// as "printers.json: rules[2].then.steps[0].filter".
func ParsePack(files map[string][]byte) ([]routing.Rule, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var all []routing.Rule
	var errs routing.RuleErrors
	for _, n := range names {
		var f packFile
		dec := json.NewDecoder(bytes.NewReader(files[n]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			errs = append(errs, routing.FieldError{Path: n, Message: "is not a rule file: " + err.Error()})
			continue
		}
		if _, err := routing.CompileRules(f.Rules); err != nil {
			var re routing.RuleErrors
			if !errors.As(err, &re) {
				return nil, err
			}
			for _, fe := range re {
				fe.Path = n + ": " + fe.Path
				errs = append(errs, fe)
			}
		}
		all = append(all, f.Rules...)
	}
	if len(all) > MaxPackRules {
		errs = append(errs, routing.FieldError{Path: "rules", Message: fmt.Sprintf("a pack holds at most %d rules, this one has %d", MaxPackRules, len(all))})
	}
	if len(names) == 0 || len(all) == 0 && len(errs) == 0 {
		errs = append(errs, routing.FieldError{Path: "rules", Message: "the pack has no rules"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return all, nil
}

// ValidatePack checks a plugin's pack as InstallPack does, without storing
// anything: the plugin host calls it before an install replaces the
// plugin's files, so that a refused pack refuses the whole install.
func ValidatePack(pluginID string, files map[string][]byte) error {
	_, err := parsePack(pluginID, files)
	return err
}

// parsePack is ParsePack with its errors as the fault the API shows.
func parsePack(pluginID string, files map[string][]byte) ([]routing.Rule, error) {
	rules, err := ParsePack(files)
	if err != nil {
		var re routing.RuleErrors
		if errors.As(err, &re) {
			f := re.Fault()
			f.Code, f.Message = "invalid_rule_pack", fmt.Sprintf("The routing rule pack of plugin %s is refused: %d error(s).", pluginID, len(re))
			return nil, f
		}
		return nil, err
	}
	return rules, nil
}

// InstallPack checks every rule of a plugin's pack and stores it, replacing
// an earlier version of the same plugin's pack (its channels stay enabled).
// A pack with any invalid rule is refused whole, with every error (a
// validation fault, code invalid_rule_pack, whose fields are the paths of
// ParsePack).
func (s *Service) InstallPack(ctx context.Context, pluginID, version string, files map[string][]byte) (Pack, error) {
	rules, err := parsePack(pluginID, files)
	if err != nil {
		return Pack{}, err
	}
	b, err := json.Marshal(rules)
	if err != nil {
		return Pack{}, fmt.Errorf("encode pack: %w", err)
	}
	var p packRow
	err = s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewSelect().Model(&p).Where("plugin_id = ?", pluginID).Scan(ctx)
		old := ""
		switch {
		case errors.Is(err, sql.ErrNoRows):
			p = packRow{PluginID: pluginID}
		case err != nil:
			return fmt.Errorf("load pack of %s: %w", pluginID, err)
		default:
			old = p.Rules
		}
		p.Version, p.Rules, p.InstalledAt = version, string(b), s.now()
		if p.ID == 0 {
			_, err = tx.NewInsert().Model(&p).Returning("id").Exec(ctx)
		} else {
			_, err = tx.NewUpdate().Model(&p).WherePK().Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("store pack of %s: %w", pluginID, err)
		}
		return s.audit(ctx, tx, nil, ActionPackInstall, List{}, 0, p.ID, old, p.Rules)
	})
	if err != nil {
		return Pack{}, err
	}
	s.invalidate()
	return s.pack(ctx, s.DB, nil, p)
}

// RemovePack deletes a plugin's pack, if it has one.
func (s *Service) RemovePack(ctx context.Context, pluginID string) error {
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var p packRow
		err := tx.NewSelect().Model(&p).Where("plugin_id = ?", pluginID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load pack of %s: %w", pluginID, err)
		}
		if _, err := tx.NewDelete().Model(&p).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("remove pack of %s: %w", pluginID, err)
		}
		return s.audit(ctx, tx, nil, ActionPackRemove, List{}, 0, p.ID, p.Rules, "")
	})
	if err != nil {
		return err
	}
	s.invalidate()
	return nil
}

func (s *Service) pack(ctx context.Context, db bun.IDB, sc *org.Scope, p packRow) (Pack, error) {
	out := Pack{ID: p.ID, PluginID: p.PluginID, Version: p.Version, InstalledAt: p.InstalledAt, Channels: []int64{}}
	if err := json.Unmarshal([]byte(p.Rules), &out.Rules); err != nil {
		return Pack{}, fmt.Errorf("decode pack %d: %w", p.ID, err)
	}
	var chs []int64
	if err := db.NewSelect().Table("routing_pack_channels").Column("channel_id").
		Where("pack_id = ?", p.ID).OrderExpr("channel_id").Scan(ctx, &chs); err != nil {
		return Pack{}, fmt.Errorf("load pack channels: %w", err)
	}
	for _, c := range chs {
		if sc == nil || sc.Manages(c) {
			out.Channels = append(out.Channels, c)
		}
	}
	return out, nil
}

// Packs lists the installed packs, each with the channels in the caller's
// scope it is enabled on. Administrators only.
func (s *Service) Packs(ctx context.Context, sc *org.Scope) ([]Pack, error) {
	if sc.Actor.Role != org.KindMaster && sc.Actor.Role != org.KindAdmin {
		return nil, fault.Forbiddenf("admins_only", "Only administrators manage routing rules.")
	}
	var rows []packRow
	if err := s.DB.NewSelect().Model(&rows).OrderExpr("plugin_id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	out := make([]Pack, 0, len(rows))
	for _, r := range rows {
		p, err := s.pack(ctx, s.DB, sc, r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SetPackEnabled enables or disables a pack on a channel the caller manages.
func (s *Service) SetPackEnabled(ctx context.Context, sc *org.Scope, packID, channelID int64, enabled bool) (Pack, error) {
	l := List{ChannelID: channelID}
	if err := s.CheckList(ctx, sc, l); err != nil {
		return Pack{}, err
	}
	var p packRow
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewSelect().Model(&p).Where("id = ?", packID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.NotFoundf("pack", "No routing rule pack with id %d.", packID)
		}
		if err != nil {
			return fmt.Errorf("load pack %d: %w", packID, err)
		}
		row := packChannelRow{PackID: packID, ChannelID: channelID}
		action := ActionPackDisable
		if enabled {
			action = ActionPackEnable
			_, err = tx.NewInsert().Model(&row).On("CONFLICT DO NOTHING").Exec(ctx)
		} else {
			_, err = tx.NewDelete().Model(&row).WherePK().Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("%s pack %d on channel %d: %w", strings.TrimPrefix(string(action), "pack_"), packID, channelID, err)
		}
		return s.audit(ctx, tx, sc, action, l, 0, packID, "", "")
	})
	if err != nil {
		return Pack{}, err
	}
	s.invalidate()
	return s.pack(ctx, s.DB, sc, p)
}

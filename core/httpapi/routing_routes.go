package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/routing"
	"github.com/tetherhq/tether/core/rules"
)

// DryRunInput asks how rules would route a session: a real one (SessionID)
// or a hand-written one (Session), as a channel session waiting in
// ChannelID or a private session of technician group GroupID, against one
// rule (Rule) or the channel's or group's whole list.
type DryRunInput struct {
	ChannelID int64          `json:"channel_id"`
	GroupID   int64          `json:"group_id"`
	SessionID int64          `json:"session_id"`
	Session   *DryRunSession `json:"session"`
	Rule      *routing.Rule  `json:"rule"`
}

// DryRunSession is a hand-written waiting session (routing's session.*).
type DryRunSession struct {
	Fields         map[string]string `json:"fields"`
	CFields        []string          `json:"cfields" validate:"max=6"`
	TrackingID     string            `json:"tracking_id"`
	Platform       string            `json:"platform"`
	Language       string            `json:"language"`
	ClientKind     string            `json:"client_kind"`
	CallingCard    string            `json:"calling_card"`
	WaitingSeconds int               `json:"waiting_seconds" validate:"gte=0"`
	TransferCount  int               `json:"transfer_count" validate:"gte=0"`
}

// RoutingDryRun evaluates rules for the dry run (core/hub builds the real
// environment and the online technicians).
type RoutingDryRun interface {
	DryRun(ctx context.Context, in DryRunInput, rules []routing.CompiledRule) (routing.Decision, error)
}

func (a *API) routingRoutes() {
	if a.Rules == nil {
		return
	}
	a.signedIn("GET /api/v1/channels/{id}/routing-rules", a.listRules(channelList))
	a.signedIn("POST /api/v1/channels/{id}/routing-rules", a.createRule(channelList))
	a.signedIn("PUT /api/v1/channels/{id}/routing-rules/order", a.reorderRules(channelList))
	a.signedIn("GET /api/v1/groups/{id}/routing-rules", a.listRules(groupList))
	a.signedIn("POST /api/v1/groups/{id}/routing-rules", a.createRule(groupList))
	a.signedIn("PUT /api/v1/groups/{id}/routing-rules/order", a.reorderRules(groupList))
	a.signedIn("GET /api/v1/routing/rules/{rule}", a.getRule)
	a.signedIn("PUT /api/v1/routing/rules/{rule}", a.updateRule)
	a.signedIn("DELETE /api/v1/routing/rules/{rule}", a.deleteRule)
	a.signedIn("GET /api/v1/routing/packs", a.listPacks)
	a.signedIn("PUT /api/v1/routing/packs/{pack}/channels/{id}", a.setPack(true))
	a.signedIn("DELETE /api/v1/routing/packs/{pack}/channels/{id}", a.setPack(false))
	a.signedIn("GET /api/v1/routing/audit", a.routingAudit)
	if a.DryRun != nil {
		a.signedIn("POST /api/v1/routing/dry-run", a.dryRun)
	}
}

func channelList(id int64) rules.List { return rules.List{ChannelID: id} }
func groupList(id int64) rules.List   { return rules.List{GroupID: id} }

func (a *API) listRules(list func(int64) rules.List) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		sc, id, err := a.scopeAndID(r, p, "id")
		if err != nil {
			return err
		}
		rs, err := a.Rules.Rules(r.Context(), sc, list(id))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"rules": rs})
		return nil
	}
}

func (a *API) createRule(list func(int64) rules.List) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		sc, id, err := a.scopeAndID(r, p, "id")
		if err != nil {
			return err
		}
		var rule routing.Rule
		if err := decodeJSON(r, &rule); err != nil {
			return err
		}
		return reply(w, http.StatusCreated)(a.Rules.Create(r.Context(), sc, list(id), rule))
	}
}

func (a *API) reorderRules(list func(int64) rules.List) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		sc, id, err := a.scopeAndID(r, p, "id")
		if err != nil {
			return err
		}
		var body struct {
			IDs []int64 `json:"ids"`
		}
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		rs, err := a.Rules.Reorder(r.Context(), sc, list(id), body.IDs)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"rules": rs})
		return nil
	}
}

func (a *API) getRule(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, id, err := a.scopeAndID(r, p, "rule")
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Rules.Rule(r.Context(), sc, id))
}

func (a *API) updateRule(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, id, err := a.scopeAndID(r, p, "rule")
	if err != nil {
		return err
	}
	var rule routing.Rule
	if err := decodeJSON(r, &rule); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.Rules.Update(r.Context(), sc, id, rule))
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, id, err := a.scopeAndID(r, p, "rule")
	if err != nil {
		return err
	}
	if err := a.Rules.Delete(r.Context(), sc, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listPacks(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	ps, err := a.Rules.Packs(r.Context(), sc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"packs": ps})
	return nil
}

func (a *API) setPack(enabled bool) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		sc, channel, err := a.scopeAndID(r, p, "id")
		if err != nil {
			return err
		}
		pack, err := pathID(r, "pack")
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK)(a.Rules.SetPackEnabled(r.Context(), sc, pack, channel, enabled))
	}
}

func (a *API) routingAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	var l rules.List
	for _, q := range []struct {
		name string
		dst  *int64
	}{{"channel_id", &l.ChannelID}, {"group_id", &l.GroupID}} {
		if v := r.URL.Query().Get(q.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fault.Field(q.name, "must be a positive integer")
			}
			*q.dst = n
		}
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	entries, err := a.Rules.Audit(r.Context(), sc, l, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
	return nil
}

func (a *API) dryRun(w http.ResponseWriter, r *http.Request, p *principal) error {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return err
	}
	var in DryRunInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if (in.SessionID == 0) == (in.Session == nil) {
		return fault.Field("session_id", "give exactly one of session_id and session")
	}
	if in.Session != nil {
		if err := fault.Validate(in.Session); err != nil {
			return err
		}
	}
	if in.SessionID != 0 && in.ChannelID == 0 && in.GroupID == 0 {
		v, err := a.Sessions.Get(r.Context(), in.SessionID)
		if err != nil {
			return err
		}
		switch {
		case v.QueueKind == "channel":
			in.ChannelID = v.QueueID
		case v.ChannelID != nil:
			in.ChannelID = *v.ChannelID
		case v.TechGroupID != nil:
			in.GroupID = *v.TechGroupID
		}
	}
	if in.ChannelID != 0 && in.GroupID != 0 {
		return fault.Field("channel_id", "give channel_id or group_id, not both")
	}
	if in.ChannelID == 0 && in.GroupID == 0 {
		return fault.Field("channel_id", "give channel_id (a channel's rules) or group_id (a technician group's rules, for private sessions)")
	}
	l := rules.List{ChannelID: in.ChannelID, GroupID: in.GroupID}
	if err := a.Rules.CheckList(r.Context(), sc, l); err != nil {
		return err
	}
	var cs []routing.CompiledRule
	if in.Rule != nil {
		rule := *in.Rule
		rule.AppliesTo = routing.AppliesTo{ChannelIDs: []int64{}, GroupIDs: []int64{}}
		if in.ChannelID != 0 {
			rule.AppliesTo.ChannelIDs = []int64{in.ChannelID}
		} else {
			rule.AppliesTo.GroupIDs = []int64{in.GroupID}
		}
		c, err := routing.CompileRule(rule)
		if err != nil {
			var re routing.RuleErrors
			if errors.As(err, &re) {
				return prefixed(re.Fault(), "rule.")
			}
			return err
		}
		cs = []routing.CompiledRule{c}
	} else if cs, err = a.Rules.Compiled(r.Context(), l); err != nil {
		return err
	}
	return reply(w, http.StatusOK)(a.DryRun.DryRun(r.Context(), in, cs))
}

func prefixed(f *fault.Error, prefix string) *fault.Error {
	fields := make(map[string]string, len(f.Fields))
	for k, v := range f.Fields {
		fields[prefix+k] = v
	}
	f.Fields = fields
	return f
}

func (a *API) scopeAndID(r *http.Request, p *principal, name string) (*org.Scope, int64, error) {
	sc, err := p.Scope(r.Context())
	if err != nil {
		return nil, 0, err
	}
	id, err := pathID(r, name)
	return sc, id, err
}

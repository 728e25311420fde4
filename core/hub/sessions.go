package hub

import (
	"context"
	"net/http"
	"time"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
)

// Section names of the sessions feature (SESS-6, SESS-7).
const (
	PrivateFieldsSection = "private_fields"
	TermsSection         = "terms"
	FieldNamesSection    = "custom_field_names"
	InvitationSection    = "invitation_email"
)

func sessionSections() []settings.Section {
	return []settings.Section{
		{Name: queue.TimeoutsSection, Title: "Session timeouts (SESS-8)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup, settings.Channel},
			New:   func() any { return queue.DefaultTimeouts() }, Validate: func(v any) error { return v.(*queue.Timeouts).Validate() }},
		{Name: queue.PresenceSection, Title: "Technician status and capacity (SESS-16)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup},
			New:   func() any { return queue.DefaultPresenceSettings() }, Validate: func(v any) error { return v.(*queue.PresenceSettings).Validate() }},
		{Name: queue.ChannelQueueSection, Title: "Auto-transfer and auto-start (Q-1, Q-2)", NoAllChannels: true,
			Kinds: []settings.UnitKind{settings.Channel},
			New:   func() any { return queue.DefaultChannelQueue() }, Validate: func(v any) error { return v.(*queue.ChannelQueue).Validate() }},
		{Name: queue.WorkingHoursSection, Title: "Working hours and no-technician behaviour (Q-3, Q-4)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup, settings.Channel},
			New:   func() any { return queue.DefaultWorkingHours() }, Validate: func(v any) error { return v.(*queue.WorkingHours).Validate() }},
		{Name: PrivateFieldsSection, Title: "Private session fields (SESS-7)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup},
			New:   func() any { return sessions.DefaultPrivateFields() }, Validate: func(v any) error { return v.(*sessions.PrivateFields).Validate() }},
		{Name: TermsSection, Title: "Terms and conditions (SESS-6)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup, settings.Channel},
			New:   func() any { return sessions.DefaultTerms() }, Validate: func(v any) error { return v.(*sessions.Terms).Validate() }},
		{Name: InvitationSection, Title: "Connection e-mail (SESS-3)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup},
			New:   func() any { return sessions.DefaultInvitation() }},
		{Name: FieldNamesSection, Title: "Custom field names (SESS-7)", MasterOnly: true,
			Kinds: []settings.UnitKind{settings.Org},
			New:   func() any { return sessions.DefaultFieldNames() }},
	}
}

// policy reads the settings that govern sessions.
type policy struct {
	settings *settings.Service
}

func (p policy) Timeouts(ctx context.Context, unitID int64) (session.Timeouts, error) {
	t, err := settings.Get[queue.Timeouts](ctx, p.settings, unitID, queue.TimeoutsSection)
	if err != nil {
		return session.Timeouts{}, err
	}
	d := t.Durations()
	return session.Timeouts{CodeValidity: d.CodeValidity, Connecting: d.Connecting, Waiting: d.Waiting, Idle: d.Idle}, nil
}

func (p policy) PrivateFields(ctx context.Context, groupID int64) (*sessions.PrivateFields, error) {
	f, err := settings.Get[sessions.PrivateFields](ctx, p.settings, groupID, PrivateFieldsSection)
	return &f, err
}

func (p policy) Terms(ctx context.Context, unitID int64) (*sessions.Terms, error) {
	t, err := settings.Get[sessions.Terms](ctx, p.settings, unitID, TermsSection)
	return &t, err
}

func (p policy) Invitation(ctx context.Context, groupID int64) (*sessions.Invitation, error) {
	inv, err := settings.Get[sessions.Invitation](ctx, p.settings, groupID, InvitationSection)
	return &inv, err
}

func (p policy) Permissions(ctx context.Context, groupID int64) (*org.Permissions, error) {
	perms, err := settings.Get[org.Permissions](ctx, p.settings, groupID, org.PermissionsSection)
	return &perms, err
}

func (p policy) AutoTransfer(ctx context.Context, channelID int64) (time.Duration, int64, bool, error) {
	q, err := settings.Get[queue.ChannelQueue](ctx, p.settings, channelID, queue.ChannelQueueSection)
	if err != nil || !q.AutoTransferEnabled {
		return 0, 0, false, err
	}
	return time.Duration(q.AutoTransferMinutes) * time.Minute, q.AutoTransferChannelID, true, nil
}

// presence answers the sessions service from technician_presence and the
// group's SESS-16 settings.
type presence struct {
	rows     *queue.Presence
	org      *org.Service
	settings *settings.Service
	sessions func() *sessions.Service
	now      func() time.Time
	// available hears that a technician chose Online, statusChanged that
	// they chose another status.
	available, statusChanged func()
}

func (p presence) config(ctx context.Context, technicianID int64) (queue.PresenceSettings, error) {
	c, err := p.org.CredentialsByID(ctx, technicianID)
	if err != nil {
		return queue.PresenceSettings{}, err
	}
	if c.TechGroupID == 0 {
		return *queue.DefaultPresenceSettings(), nil
	}
	return settings.Get[queue.PresenceSettings](ctx, p.settings, c.TechGroupID, queue.PresenceSection)
}

func (p presence) Status(ctx context.Context, technicianID int64) (string, error) {
	cfg, err := p.config(ctx, technicianID)
	if err != nil {
		return "", err
	}
	row, err := p.rows.Get(ctx, technicianID)
	if err != nil {
		return "", err
	}
	active, err := p.sessions().ActiveCount(ctx, technicianID)
	if err != nil {
		return "", err
	}
	return string(queue.Effective(row, active, cfg, p.now())), nil
}

func (p presence) MaxActive(ctx context.Context, groupID int64) (int, error) {
	cfg, err := settings.Get[queue.PresenceSettings](ctx, p.settings, groupID, queue.PresenceSection)
	return cfg.MaxActiveSessions, err
}

// SetChosenStatus is the technician's own status choice (PUT /api/v1/me/status).
func (p presence) SetChosenStatus(r *http.Request, technicianID int64, status string) error {
	c, err := p.org.CredentialsByID(r.Context(), technicianID)
	if err != nil {
		return err
	}
	if c.TechGroupID == 0 {
		return fault.Forbiddenf("technicians_only", "Only technicians have a status.")
	}
	if err := p.rows.SetStatus(r.Context(), technicianID, queue.Status(status)); err != nil {
		return err
	}
	if status == string(queue.StatusOnline) && p.available != nil {
		p.available()
	} else if status != string(queue.StatusOnline) && p.statusChanged != nil {
		p.statusChanged()
	}
	return nil
}

// Candidate describes a technician for auto-start.
func (p presence) Candidate(ctx context.Context, technicianID int64) (queue.Candidate, bool, error) {
	cfg, err := p.config(ctx, technicianID)
	if err != nil {
		return queue.Candidate{}, false, err
	}
	row, err := p.rows.Get(ctx, technicianID)
	if err != nil {
		return queue.Candidate{}, false, err
	}
	active, err := p.sessions().ActiveCount(ctx, technicianID)
	if err != nil {
		return queue.Candidate{}, false, err
	}
	c := queue.Candidate{TechnicianID: technicianID, Status: queue.Effective(row, active, cfg, p.now()), Active: active, IdleSince: row.IdleSince()}
	return c, queue.CanPickUp(active, cfg), nil
}

// dispatcher gives the sessions service what working hours, auto-start and
// the no-technician e-mails need.
type dispatcher struct {
	presence
	policy
	mailer *queue.Mailer
}

func (d dispatcher) AutoStart(ctx context.Context, channelID int64) (bool, int, error) {
	q, err := settings.Get[queue.ChannelQueue](ctx, d.policy.settings, channelID, queue.ChannelQueueSection)
	return q.AutoStartEnabled, q.AutoStartMaxActive, err
}

func (d dispatcher) WorkingHours(ctx context.Context, unitID int64) (queue.WorkingHours, error) {
	return settings.Get[queue.WorkingHours](ctx, d.policy.settings, unitID, queue.WorkingHoursSection)
}

func (d dispatcher) Mail(ctx context.Context, to []string, subject, body string) error {
	return d.mailer.Send(ctx, to, subject, body)
}
